# The pipeline graph survives an upgrade (issue 18, item 5): pipelines
# registered with 0.1 or 0.2, before there was a graph, have their
# dependencies and self-reference after ALTER EXTENSION microbatch UPDATE.
# Their queries are analysed again as their owner with their search_path
# (here a schema the updating superuser does not search), also through a
# view; a query that no longer analyses leaves the update working, with a
# warning.  After the update mb_plan holds the downstream's windows back,
# mb_run() runs upstream first and the running total one window at a
# time, and every level equals a recomputation from scratch.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MicrobatchTest;

my $node = new_node('graph_upgrade');
$node->safe_psql('postgres', 'CREATE ROLE bob LOGIN');

foreach my $from ('0.1', '0.2')
{
	(my $db = "up_$from") =~ s/\.//;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{
CREATE EXTENSION microbatch VERSION '$from';
CREATE SCHEMA bobs AUTHORIZATION bob;
});
	# bob's pipelines name their tables without a schema: only bob's
	# search_path, stored with them, finds them
	$node->safe_psql($db, q{
SET ROLE bob;
SET search_path = bobs, public;
SET microbatch.progress = off;
CREATE TABLE events (at timestamptz, v int);
INSERT INTO events SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 71) i;
CREATE TABLE hourly (hour timestamptz, n bigint);
CREATE VIEW hours_v AS SELECT hour, n FROM hourly;
CREATE TABLE daily (day timestamptz, n bigint);
CREATE TABLE totals (day timestamptz, total bigint);
CREATE TABLE gone (at timestamptz, v int);
CREATE TABLE broken (at timestamptz, v int);
-- the downstream comes first by name, and reads its upstream through a view
SELECT mb_register('a_daily', 'daily', 'day',
  $$SELECT date_trunc('day', hour) AS day, sum(n)::bigint AS n FROM hours_v
     WHERE hour >= $1 AND hour < $2 GROUP BY 1$$,
  'day', '2024-01-01', lookback => 0, end_at => '2024-01-02');
SELECT mb_register('b_hourly', 'hourly', 'hour',
  $$SELECT date_trunc('hour', at) AS hour, sum(v)::bigint AS n FROM events
     WHERE at >= $1 AND at < $2 GROUP BY 1$$,
  'hour', '2024-01-01', lookback => 0, end_at => '2024-01-02');
SELECT mb_register('c_running', 'totals', 'day',
  $$SELECT $1 AS day,
           coalesce((SELECT t.total FROM totals t WHERE t.day = $1 - interval '1 day'), 0)
           + (SELECT count(*) FROM events e WHERE e.at >= $1 AND e.at < $2) AS total$$,
  'day', '2024-01-01', end_at => '2024-01-02', max_parallel => 4);
SELECT mb_register('d_broken', 'broken', 'at',
  $$SELECT at, v FROM gone WHERE at >= $1 AND at < $2$$, 'day', '2024-01-01', end_at => '2024-01-02');
-- state: the first day of each, in order
SELECT count(*) FROM mb_run('b_hourly');
SELECT count(*) FROM mb_run('a_daily');
SELECT count(*) FROM mb_run('c_running');
SELECT mb_alter(name, end_at => '2024-01-04') FROM microbatch.pipelines WHERE name <> 'd_broken';
SELECT mb_alter('d_broken', enabled => false);
DROP TABLE gone;
});
	is($node->safe_psql($db, "SELECT string_agg(day || '=' || total, ',' ORDER BY day) FROM bobs.totals"),
		'2024-01-01 00:00:00+00=24', "$from: the running total has its first day");

	my ($ret, $out, $err) = $node->psql($db, 'ALTER EXTENSION microbatch UPDATE');
	is($ret, 0, "$from: the update succeeds");
	like($err, qr/pipeline "d_broken" has no dependencies: its query does not analyse: relation "gone" does not exist/,
		"$from: a query that no longer analyses is named in a warning");
	is($node->safe_psql($db, "SELECT extversion FROM pg_extension WHERE extname = 'microbatch'"), '0.3',
		"$from: the extension is at 0.3");
	is($node->safe_psql($db, q{
SELECT string_agg(name || ':' || array_to_string(reads::text[], ' '), ',' ORDER BY name)
  FROM (SELECT name, ARRAY(SELECT r FROM unnest(reads) r ORDER BY r::text) AS reads
          FROM microbatch.pipelines) p}),
		'a_daily:bobs.hours_v,b_hourly:bobs.events,c_running:bobs.events bobs.totals,d_broken:',
		"$from: every query's reads are stored again, resolved with its owner's search_path");

	# the downstream waits for the days its upstream has not processed yet
	is($node->safe_psql($db, "SELECT string_agg(window_start::date || ' ' || reason, ',' ORDER BY window_start) FROM mb_plan('a_daily')"),
		'2024-01-02 waiting,2024-01-03 waiting', "$from: the downstream's new windows wait for its upstream");
	is($node->safe_psql($db, "SELECT waiting_on FROM microbatch.status WHERE pipeline = 'a_daily'"),
		'{b_hourly}', "$from: and the status view says on which");

	# mb_run() runs the upstream first and the running total one at a time
	is($node->safe_psql($db, q{
SET ROLE bob;
SET microbatch.progress = off;
SELECT string_agg(pipeline || ' ' || windows || ' ' || succeeded, ',') FROM mb_run()}),
		'b_hourly 48 48,a_daily 2 2,c_running 3 3', "$from: mb_run() runs the upstream before the downstream");
	is($node->safe_psql($db, q{
SELECT count(*) FROM bobs.daily d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v) AS n FROM bobs.events GROUP BY 1) e ON e.day = d.day
 WHERE d.n IS DISTINCT FROM e.n}), '0', "$from: the downstream equals a recomputation");
	is($node->safe_psql($db, q{
SELECT count(*) FROM bobs.totals t
  FULL JOIN (SELECT day, sum(n) OVER (ORDER BY day) AS total
               FROM (SELECT date_trunc('day', at) AS day, count(*) AS n FROM bobs.events GROUP BY 1) d) e
    ON e.day = t.day
 WHERE t.total IS DISTINCT FROM e.total}), '0', "$from: the running total equals a recomputation");
	is($node->safe_psql($db, q{
SELECT count(*) FROM (SELECT w.started_at, w.finished_at, lead(w.started_at) OVER (ORDER BY w.window_start) AS next
                        FROM microbatch.windows w JOIN microbatch.pipelines p ON p.id = w.pipeline_id
                       WHERE p.name = 'c_running') s
 WHERE next < finished_at}), '0', "$from: its windows ran one after the other, oldest first");
}

$node->stop;
done_testing();

# Exact whatever the pipeline graph (issue 18, DESIGN §4.6, §7): hourly ->
# daily -> monthly pipelines, the monthly one reading the daily target
# through a view, all tracking what they read; late rows arrive through a
# long-lived connection that wrote before the runs moved the horizon, and
# through a partition attached to the partitioned event table; one level
# is backfilled.  After one mb_run() every level equals a from-scratch
# recomputation, and the runs went upstream first.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;

my $node = new_node('exact_graph', conf => "microbatch.progress = off\n");
$node->safe_psql('postgres', q{
CREATE TABLE events (at timestamptz NOT NULL, v int NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_jan PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE events_feb PARTITION OF events FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
INSERT INTO events SELECT '2024-01-01'::timestamptz + i * interval '37 minutes', i % 7
  FROM generate_series(0, (59 * 24 * 60) / 37 - 1) i;
CREATE TABLE hourly (hour timestamptz, n bigint, total bigint);
CREATE TABLE daily (day timestamptz, n bigint, total bigint);
CREATE TABLE monthly (month timestamptz, n bigint, total bigint);
CREATE VIEW daily_view AS SELECT day, n, total FROM daily;
SELECT mb_register('hourly', 'hourly', 'hour',
  $$SELECT date_trunc('hour', at) AS hour, count(*) AS n, sum(v) AS total
      FROM events WHERE at >= $1 AND at < $2 GROUP BY 1$$,
  'hour', '2024-01-01', lookback => 0, end_at => '2024-03-01', track => true);
SELECT mb_register('daily', 'daily', 'day',
  $$SELECT date_trunc('day', hour) AS day, sum(n)::bigint AS n, sum(total)::bigint AS total
      FROM hourly WHERE hour >= $1 AND hour < $2 GROUP BY 1$$,
  'day', '2024-01-01', lookback => 0, end_at => '2024-03-01', track => true);
SELECT mb_register('monthly', 'monthly', 'month',
  $$SELECT date_trunc('month', day) AS month, sum(n)::bigint AS n, sum(total)::bigint AS total
      FROM daily_view WHERE day >= $1 AND day < $2 GROUP BY 1$$,
  'month', '2024-01-01', lookback => 0, end_at => '2024-03-01', track => true);
});

# exact tells whether every level equals its recomputation from the events
sub exact
{
	return $node->safe_psql('postgres', q{
WITH h AS (SELECT date_trunc('hour', at) AS hour, count(*) AS n, sum(v) AS total FROM events GROUP BY 1),
     d AS (SELECT date_trunc('day', at) AS day, count(*) AS n, sum(v) AS total FROM events GROUP BY 1),
     m AS (SELECT date_trunc('month', at) AS month, count(*) AS n, sum(v) AS total FROM events GROUP BY 1)
SELECT (SELECT count(*) FROM (TABLE hourly EXCEPT ALL TABLE h) a) + (SELECT count(*) FROM (TABLE h EXCEPT ALL TABLE hourly) b),
       (SELECT count(*) FROM (TABLE daily EXCEPT ALL TABLE d) a) + (SELECT count(*) FROM (TABLE d EXCEPT ALL TABLE daily) b),
       (SELECT count(*) FROM (TABLE monthly EXCEPT ALL TABLE m) a) + (SELECT count(*) FROM (TABLE m EXCEPT ALL TABLE monthly) b)});
}

# the view hides the daily target: the dependency is seen through it
is($node->safe_psql('postgres', 'SELECT pipeline FROM mb_run()'), "hourly\ndaily\nmonthly",
	'mb_run() runs hourly, daily, monthly in that order (monthly reads daily through a view)');
is(exact(), '0|0|0', 'after the first run every level equals its recomputation');

# a pooled writer: one connection that wrote before the runs below moved
# the horizon, and writes a late row after each of them
$node->safe_psql('postgres', 'SELECT mb_reset(name) FROM unnest(ARRAY[\'hourly\', \'daily\', \'monthly\']) name');
$node->safe_psql('postgres', 'TRUNCATE hourly, daily, monthly');
$node->safe_psql('postgres', "SELECT mb_alter('hourly', end_at => '2024-01-02')");
$node->safe_psql('postgres', 'SELECT * FROM mb_run()');
my $writer = $node->background_psql('postgres');
$writer->query_safe("INSERT INTO events VALUES ('2024-01-01 00:30', 1000)");
for my $day (2 .. 11)
{
	my $end = sprintf('2024-01-%02d', $day + 1);
	$node->safe_psql('postgres', "SELECT mb_alter('hourly', end_at => '$end')");
	$node->safe_psql('postgres', 'SELECT * FROM mb_run()');
	# late: into the first hour, processed long ago
	$writer->query_safe("INSERT INTO events VALUES ('2024-01-01 00:10', $day)");
	$writer->query_safe("UPDATE events SET v = v + 1 WHERE at = '2024-01-01 00:30'");
}
$node->safe_psql('postgres', "SELECT mb_alter('hourly', end_at => '2024-03-01')");

# a late partition: March's events land in their own table first, then
# January's late rows arrive by ATTACH of a table holding them
$node->safe_psql('postgres', q{
CREATE TABLE events_late (LIKE events);
INSERT INTO events_late SELECT '2024-03-01'::timestamptz + i * interval '1 hour', 5 FROM generate_series(0, 23) i;
});
$node->safe_psql('postgres', q{
DELETE FROM events_late;
ALTER TABLE events DETACH PARTITION events_jan;
INSERT INTO events_jan VALUES ('2024-01-05 12:00', 77), ('2024-01-10 23:59', 3);
ALTER TABLE events ATTACH PARTITION events_jan FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
});
$writer->query_safe("DELETE FROM events WHERE at = '2024-01-01 00:10' AND v = 2");

# a backfill of the middle level, then one run of everything
$node->safe_psql('postgres', "CALL mb_backfill('daily', '2024-01-05', '2024-01-07')");
my $order = $node->safe_psql('postgres',
	"SELECT string_agg(pipeline, ',' ORDER BY run_id) FROM mb_run() WHERE windows > 0");
like($order, qr/^hourly(,daily)?(,monthly)?$/, "one mb_run() processes upstream first ($order)");
is(exact(), '0|0|0',
	'after late rows from a long-lived connection, a detach and an attach, and a backfill, one mb_run() makes every level exact');
$writer->quit;

$node->stop;
done_testing();

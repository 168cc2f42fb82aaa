# microbatch on a Citus cluster: a coordinator and two workers on unix
# sockets.  Each window behaves exactly as on one node (DESIGN §10): results
# equal a recomputation for distributed, reference and local targets; the
# pipeline's time zone reaches the nodes; custom plans whatever
# plan_cache_mode says; windows run in parallel across the cluster; a
# failing shard keeps the window's old rows; a window waiting on a lock its
# own caller holds on a worker fails fast.  Skipped when Citus is absent.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
my $pkglibdir = `$pg_config --pkglibdir`;
chomp $pkglibdir;
plan skip_all => "Citus is not installed in $pkglibdir (run ../shared/citus/build.sh)"
  unless -f "$pkglibdir/citus.so";

# three nodes; Citus connects to the others over their unix sockets
my @nodes;
for my $i (0 .. 2)
{
	my $node = PostgreSQL::Test::Cluster->new($i == 0 ? 'coordinator' : "worker$i");
	$node->init;
	$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'citus'
citus.node_conninfo = 'sslmode=disable'
max_worker_processes = 24
max_connections = 100
timezone = 'UTC'
datestyle = 'ISO, YMD'
lc_messages = 'C'
microbatch.progress = off
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	push @nodes, $node;
}
my ($coordinator, @workers) = @nodes;
$coordinator->safe_psql('postgres', sprintf("SELECT citus_set_coordinator_host('%s', %d)",
	$coordinator->host, $coordinator->port));
$coordinator->safe_psql('postgres', sprintf("SELECT citus_add_node('%s', %d)", $_->host, $_->port))
  for @workers;
is($coordinator->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'), '2',
	'a coordinator with two workers');
$coordinator->safe_psql('postgres', 'CREATE EXTENSION microbatch');

# on_coordinator runs SQL on the coordinator and returns its output; an
# error is shown as a diagnostic and fails the test that looks at the output
sub on_coordinator
{
	my ($ret, $out, $err) = $coordinator->psql('postgres', $_[0], on_error_stop => 1);
	diag($err) if $ret != 0;
	return $ret == 0 ? $out : "error: $err";
}

# events distributed by client, 4 days of 2024 in New York time
on_coordinator(q{
CREATE TABLE events (client int NOT NULL, created_at timestamptz NOT NULL, amount numeric);
SELECT create_distributed_table('events', 'client', shard_count => 4);
INSERT INTO events
SELECT i % 20, '2024-03-09 00:00-05'::timestamptz + (i::float8 / 20000) * interval '4 days', i % 100
  FROM generate_series(0, 19999) i;
});

# the same rollup into a distributed (co-located), a reference and a local target
my $rollup = q{$$SELECT client, date_trunc('day', created_at, 'America/New_York') AS day,
                count(*) AS n, sum(amount) AS total
           FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$};
on_coordinator(q{
CREATE TABLE by_client (client int NOT NULL, day timestamptz, n bigint, total numeric);
SELECT create_distributed_table('by_client', 'client', colocate_with => 'events');
CREATE TABLE by_day_ref (client int NOT NULL, day timestamptz, n bigint, total numeric);
SELECT create_reference_table('by_day_ref');
CREATE TABLE by_day_local (client int NOT NULL, day timestamptz, n bigint, total numeric);
});
for my $target ('by_client', 'by_day_ref', 'by_day_local')
{
	on_coordinator("SELECT mb_register('$target', '$target', 'day', $rollup, 'day', '2024-03-09 00:00-05',
	     end_at => '2024-03-13 00:00-04', time_zone => 'America/New_York', max_parallel => 2)");
	is(on_coordinator("SELECT windows, succeeded, failed FROM mb_run('$target')"), '4|4|0',
		"$target: four New York days run");
}
my $expected = q{SELECT client, date_trunc('day', created_at, 'America/New_York') AS day,
                        count(*) AS n, sum(amount) AS total
                   FROM events WHERE created_at >= '2024-03-09 00:00-05' AND created_at < '2024-03-13 00:00-04'
                  GROUP BY 1, 2};
for my $target ('by_client', 'by_day_ref', 'by_day_local')
{
	is(on_coordinator("SELECT count(*) FROM ((TABLE $target EXCEPT ALL $expected) UNION ALL ($expected EXCEPT ALL TABLE $target)) d"),
		'0', "$target equals a recomputation");
}

# the zone reaches the nodes: buckets computed there with one-argument date_trunc
on_coordinator(q{
CREATE TABLE weekly (client int NOT NULL, week timestamptz, n bigint);
SELECT create_distributed_table('weekly', 'client', colocate_with => 'events');
SELECT mb_register('weekly', 'weekly', 'week',
  $$SELECT client, date_trunc('week', created_at) AS week, count(*) AS n
      FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  'week', '2024-03-04 00:00-05', end_at => '2024-03-18 00:00-04', time_zone => 'America/New_York');
});
is(on_coordinator("SELECT windows, succeeded FROM mb_run('weekly')"), '2|2',
	'a weekly New York pipeline whose buckets are computed on the workers succeeds');
is(on_coordinator("SELECT string_agg(DISTINCT week::text, ',' ORDER BY week::text) FROM weekly"),
	'2024-03-04 05:00:00+00,2024-03-11 04:00:00+00', 'its weeks start at New York midnights');
is(on_coordinator("SHOW TimeZone"), 'UTC', 'the caller keeps its time zone');

# a window inside the caller's transaction: the caller's zone comes back on the nodes too
is(on_coordinator(q{
BEGIN;
SELECT rows_inserted FROM mb_run_window('weekly', '2024-03-11 04:00+00');
SELECT string_agg(DISTINCT date_trunc('day', created_at)::text, ',')
  FROM (SELECT created_at FROM events WHERE client = 1 AND created_at < '2024-03-09 12:00+00' LIMIT 1) e;
COMMIT;
}), "20\n2024-03-09 00:00:00+00", 'after mb_run_window the nodes compute in the caller\'s zone again');

# a role whose plans are forced generic still gets custom plans in its windows
on_coordinator(q{
CREATE ROLE generic_owner LOGIN;
GRANT SELECT ON events TO generic_owner;
CREATE TABLE generic_target (LIKE by_client);
SELECT create_distributed_table('generic_target', 'client', colocate_with => 'events');
GRANT INSERT, DELETE, SELECT ON generic_target TO generic_owner;
ALTER ROLE generic_owner SET plan_cache_mode = force_generic_plan;
SET ROLE generic_owner;
SELECT mb_register('generic', 'generic_target', 'day', $$SELECT client, date_trunc('day', created_at, 'America/New_York') AS day,
       count(*) AS n, sum(amount) AS total FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  'day', '2024-03-09 00:00-05', end_at => '2024-03-13 00:00-04', time_zone => 'America/New_York');
SET plan_cache_mode = force_generic_plan;
CALL mb_backfill('generic', '2024-03-09 00:00-05', '2024-03-13 00:00-04');
RESET ROLE;
});
is(on_coordinator("SELECT status, count(*) FROM microbatch.windows w JOIN microbatch.pipelines p ON p.id = w.pipeline_id
      WHERE p.name = 'generic' GROUP BY 1"), 'succeeded|4', 'force_generic_plan: every window succeeds');

# windows run in parallel across the cluster: two windows whose shard work is
# slow (a sleep per group, evaluated on the workers) overlap in time
on_coordinator(q{
CREATE FUNCTION slow_true(bigint) RETURNS bool LANGUAGE plpgsql IMMUTABLE
AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN true; END $$;
CREATE TABLE slow (client int NOT NULL, day timestamptz, n bigint);
SELECT create_distributed_table('slow', 'client', colocate_with => 'events');
SELECT mb_register('slow', 'slow', 'day',
  $$SELECT client, date_trunc('day', created_at, 'America/New_York') AS day, count(*) AS n
      FROM events WHERE created_at >= $1 AND created_at < $2
     GROUP BY 1, 2 HAVING slow_true(count(*))$$,
  'day', '2024-03-09 00:00-05', end_at => '2024-03-11 00:00-04', time_zone => 'America/New_York', max_parallel => 2);
});
is(on_coordinator("SELECT succeeded FROM mb_run('slow')"), '2', 'two slow windows succeed');
# both start at once; one after the other, the second would wait out the
# first and take about twice as long
is(on_coordinator(q{
	SELECT max(finished_at - started_at) < 1.5 * min(finished_at - started_at)
	   AND max(started_at) < min(finished_at)
	  FROM microbatch.windows w JOIN microbatch.pipelines p ON p.id = w.pipeline_id
	 WHERE p.name = 'slow'}), 't', 'and ran at the same time');

my ($ret, $out, $err);

# the out-of-window check runs where the rows are: a 1:1 window's INSERT ...
# SELECT goes down to the shards with its guard, and no row comes back
on_coordinator(q{
CREATE TABLE copied (client int NOT NULL, created_at timestamptz, amount numeric);
SELECT create_distributed_table('copied', 'client', colocate_with => 'events');
SELECT mb_register('copied', 'copied', 'created_at',
  $$SELECT client, created_at, amount FROM events WHERE created_at >= $1 AND created_at < $2$$,
  'day', '2024-03-09 00:00-05', end_at => '2024-03-11 00:00-04', time_zone => 'America/New_York');
CREATE TABLE shifted (LIKE copied);
SELECT create_distributed_table('shifted', 'client', colocate_with => 'events');
SELECT mb_register('shifted', 'shifted', 'created_at',
  $$SELECT client, created_at + interval '1 day' AS created_at, amount FROM events
     WHERE created_at >= $1 AND created_at < $2$$,
  'day', '2024-03-09 00:00-05', end_at => '2024-03-11 00:00-04', time_zone => 'America/New_York');
});
($ret, $out, $err) = $coordinator->psql('postgres', q{
SET citus.log_remote_commands = on;
SELECT rows_inserted FROM mb_run_window('copied', '2024-03-09 00:00-05');
});
is($out, on_coordinator(q{SELECT count(*) FROM events
                          WHERE created_at >= '2024-03-09 00:00-05' AND created_at < '2024-03-10 00:00-05'}),
	'a 1:1 window on Citus copies its day');
like($err, qr/issuing INSERT INTO \S*copied_\d+ .*microbatch\.window_check/,
	'its INSERT ... SELECT runs on the shards, with the guard');
unlike($err, qr/RETURNING/, 'and sends no row back to the coordinator');
($ret, $out, $err) = $coordinator->psql('postgres',
	"SELECT * FROM mb_run_window('shifted', '2024-03-10 00:00-05')");
like($err, qr/event time .* is outside/, 'a row outside its window is caught on the shards');
is(on_coordinator("SELECT count(*) FROM shifted"), '0',
	'and nothing of the window is written');

# a failing shard keeps the window's old rows
my $before = on_coordinator("SELECT sum(n) FROM by_client WHERE day = '2024-03-10 05:00+00'");
my $broken = $workers[0]->safe_psql('postgres', q{
SET citus.show_shards_for_app_name_prefixes = '*';
SET citus.enable_manual_changes_to_shards = on;
DO $$
DECLARE s text;
BEGIN
	FOR s IN SELECT c.relname FROM pg_class c WHERE c.relname LIKE 'by_client_%' AND c.relkind = 'r' LOOP
		EXECUTE format('ALTER TABLE %I ADD CONSTRAINT no_rows CHECK (false) NOT VALID', s);
	END LOOP;
END $$;
SELECT count(*) FROM pg_constraint WHERE conname = 'no_rows';
});
ok($broken > 0, 'the shards of the target on one worker refuse new rows');
($ret, $out, $err) = $coordinator->psql('postgres',
	"CALL mb_backfill('by_client', '2024-03-10 05:00+00', '2024-03-11 04:00+00')");
like($err, qr/pipeline "by_client": 1 of 1 windows failed/, 'a window failing on one shard fails');
is(on_coordinator("SELECT sum(n) FROM by_client WHERE day = '2024-03-10 05:00+00'"), $before,
	'and keeps its old rows on every shard');

# a window waiting for a lock its caller holds on a worker fails fast
my $started = time;
($ret, $out, $err) = $coordinator->psql('postgres', q{
SET statement_timeout = '60s';
BEGIN;
UPDATE by_day_ref SET n = n WHERE client = 1;
SELECT * FROM mb_run('by_day_ref', 1);
ROLLBACK;
});
like($err, qr/run of pipeline "by_day_ref" waits for a lock held by its own transaction/,
	'a self-deadlock on a worker node is reported');
ok(time - $started < 30, 'well before statement_timeout');

$_->stop for @nodes;
done_testing();

# Partition maintenance on a tracked source against runs (issue 18,
# src/track_partition.c), where pg_regress cannot go:
# 1. a DROP of a partition while a window that reads it is processed for
#    the first time: the drop takes its locks before it marks, so it waits
#    for the window, which by then has a state row to mark;
# 2. DETACH PARTITION ... CONCURRENTLY (two transactions, no transaction
#    block; PostgreSQL 14 and later): its marks come with the second.
# After each, one run makes the target equal to a recomputation.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MicrobatchTest;

my $node = new_node('partition_races');
$node->safe_psql('postgres', q{
CREATE TABLE ev (at timestamptz, v int) PARTITION BY RANGE (at);
CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2024-01-03');
CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM ('2024-01-03') TO ('2024-01-05') PARTITION BY RANGE (at);
CREATE TABLE ev_2a PARTITION OF ev_2 FOR VALUES FROM ('2024-01-03') TO ('2024-01-04');
CREATE TABLE ev_2b PARTITION OF ev_2 FOR VALUES FROM ('2024-01-04') TO ('2024-01-05');
CREATE TABLE ev_3 PARTITION OF ev FOR VALUES FROM ('2024-01-05') TO (MAXVALUE);
INSERT INTO ev SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 24 * 6 - 1) i;
CREATE TABLE ev_daily (day timestamptz, n bigint);
-- a window's query waits at a gate (an advisory lock) after taking its snapshot
SELECT mb_register('ev_daily', 'ev_daily', 'day',
  $$SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n
      FROM ev CROSS JOIN (SELECT pg_advisory_xact_lock_shared(4242)) gate
     WHERE at >= $1 AND at < $2 GROUP BY 1$$,
  'day', '2024-01-01', lookback => 0, end_at => '2024-01-07', track => true);
SET microbatch.progress = off;
CALL mb_backfill('ev_daily', '2024-01-01', '2024-01-03');
});
my $wrong = q{
SELECT count(*) FROM ev_daily d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM ev GROUP BY 1) e ON e.day = d.day
 WHERE d.n IS DISTINCT FROM e.n};
my $plan = "SELECT string_agg(window_start::date || ' ' || reason, ',' ORDER BY window_start) FROM mb_plan('ev_daily')";

# 1. the window of 2024-01-03, processed for the first time, waits at the
# gate holding its locks on ev_2a; a DROP of ev_2 waits for it
my $gate = $node->background_psql('postgres');
$gate->query_safe('SELECT pg_advisory_lock(4242)');
my $runner = $node->background_psql('postgres');
$runner->query_until(qr/started/, "SET microbatch.progress = off;\n\\echo started\n"
	  . "CALL mb_backfill('ev_daily', '2024-01-03', '2024-01-04');\n");
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
  or die 'the window did not reach the gate';
my $dropper = $node->background_psql('postgres');
$dropper->query_until(qr/started/, "\\echo started\nDROP TABLE ev_2;\n");
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'relation' AND NOT granted AND mode = 'AccessExclusiveLock'")
  or die 'the drop did not wait for the window';
$gate->query_safe('SELECT pg_advisory_unlock(4242)');
$runner->query_safe('SELECT 1');
$dropper->query_safe('SELECT 1');
$_->quit for ($gate, $runner, $dropper);
is($node->safe_psql('postgres', $plan), '2024-01-03 stale,2024-01-04 new,2024-01-05 new,2024-01-06 new',
	'a DROP that waited for a window processed for the first time stales it');
$node->safe_psql('postgres', "SET microbatch.progress = off; SELECT * FROM mb_run('ev_daily')");
is($node->safe_psql('postgres', $wrong), '0', 'after one run the target equals a recomputation');

# 2. DETACH ... CONCURRENTLY: a partition by its bounds, one open to
# MAXVALUE by its rows
SKIP:
{
	skip 'DETACH CONCURRENTLY came with PostgreSQL 14', 4
	  if $node->safe_psql('postgres', 'SHOW server_version_num') < 140000;
	$node->safe_psql('postgres', 'ALTER TABLE ev DETACH PARTITION ev_1 CONCURRENTLY');
	is($node->safe_psql('postgres', $plan), '2024-01-01 stale,2024-01-02 stale',
		'a concurrent detach stales the days of its partition');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'microbatch%'
	   AND tgrelid = 'ev_1'::regclass}), '0', 'the detached table keeps no tracking trigger');
	$node->safe_psql('postgres', 'ALTER TABLE ev DETACH PARTITION ev_3 CONCURRENTLY');
	is($node->safe_psql('postgres', $plan),
		'2024-01-01 stale,2024-01-02 stale,2024-01-05 stale,2024-01-06 stale',
		'a concurrent detach of a partition open to MAXVALUE stales the days of its rows');
	$node->safe_psql('postgres', "SET microbatch.progress = off; SELECT * FROM mb_run('ev_daily')");
	is($node->safe_psql('postgres', $wrong), '0', 'after one run the target equals a recomputation');
}

$node->stop;
done_testing();

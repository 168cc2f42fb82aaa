# DETACH PARTITION ... CONCURRENTLY of a tracked source's partition (issue
# 18): it runs in two transactions and no transaction block, so it is
# tested here rather than in pg_regress.  The rows leave every new snapshot
# when the first commits; the marks come with the second, and the next run
# makes the target equal to a recomputation.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MicrobatchTest;

my $node = new_node('detach_concurrently');
if ($node->safe_psql('postgres', 'SHOW server_version_num') < 140000)
{
	$node->stop;
	plan skip_all => 'DETACH CONCURRENTLY came with PostgreSQL 14';
}
$node->safe_psql('postgres', q{
CREATE TABLE ev (at timestamptz, v int) PARTITION BY RANGE (at);
CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2024-01-03');
CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM ('2024-01-03') TO ('2024-01-05') PARTITION BY RANGE (at);
CREATE TABLE ev_2a PARTITION OF ev_2 FOR VALUES FROM ('2024-01-03') TO ('2024-01-04');
CREATE TABLE ev_2b PARTITION OF ev_2 FOR VALUES FROM ('2024-01-04') TO ('2024-01-05');
CREATE TABLE ev_rest PARTITION OF ev FOR VALUES FROM ('2024-01-05') TO (MAXVALUE);
INSERT INTO ev SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 24 * 6 - 1) i;
CREATE TABLE ev_daily (day timestamptz, n bigint);
SELECT mb_register('ev_daily', 'ev_daily', 'day',
  $$SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM ev WHERE at >= $1 AND at < $2 GROUP BY 1$$,
  'day', '2024-01-01', lookback => 0, end_at => '2024-01-07', track => true);
SET microbatch.progress = off;
SELECT * FROM mb_run('ev_daily');
});
my $wrong = q{
SELECT count(*) FROM ev_daily d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM ev GROUP BY 1) e ON e.day = d.day
 WHERE d.n IS DISTINCT FROM e.n};

# a partition with partitions, by its bounds
$node->safe_psql('postgres', 'ALTER TABLE ev DETACH PARTITION ev_2 CONCURRENTLY');
is($node->safe_psql('postgres', "SELECT string_agg(window_start::date || ' ' || reason, ',') FROM mb_plan('ev_daily')"),
	'2024-01-03 stale,2024-01-04 stale', 'a concurrent detach stales the days of its partition');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'microbatch%'
   AND tgrelid IN ('ev_2'::regclass, 'ev_2a'::regclass, 'ev_2b'::regclass)}), '0',
	'the detached tables keep no tracking trigger');

# a partition open to MAXVALUE, by its rows
$node->safe_psql('postgres', 'ALTER TABLE ev DETACH PARTITION ev_rest CONCURRENTLY');
is($node->safe_psql('postgres', "SELECT string_agg(window_start::date || ' ' || reason, ',') FROM mb_plan('ev_daily')"),
	'2024-01-03 stale,2024-01-04 stale,2024-01-05 stale,2024-01-06 stale',
	'a concurrent detach of a partition open to MAXVALUE stales the days of its rows');
$node->safe_psql('postgres', "SET microbatch.progress = off; SELECT * FROM mb_run('ev_daily')");
is($node->safe_psql('postgres', $wrong), '0', 'after one run the target equals a recomputation');

$node->stop;
done_testing();

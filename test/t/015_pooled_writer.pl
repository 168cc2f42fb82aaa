# A pooled writer (DESIGN §4.2, issue 18): one connection keeps writing late
# rows to a tracked source across many runs, each of which moves the
# tracking horizon a day.  Every run tells every backend that the horizon
# moved (src/horizon.c), so none of its late rows is lost: each leaves its
# day stale, and after one more run the target equals a recomputation.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MicrobatchTest;

my $runs = 30;
my $node = new_node('pooled_writer');
$node->safe_psql('postgres', q{
CREATE TABLE ev (at timestamptz, v int);
INSERT INTO ev SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 24 * 40 - 1) i;
CREATE TABLE ev_daily (day timestamptz, n bigint);
SELECT mb_register('ev_daily', 'ev_daily', 'day',
  $$SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM ev WHERE at >= $1 AND at < $2 GROUP BY 1$$,
  'day', '2024-01-01', lookback => 0, end_at => '2024-01-02', track => true);
SET microbatch.progress = off;
SELECT * FROM mb_run('ev_daily');
});

# the pool's connection: it writes (and so caches the horizon) before the
# first run below, and every write is its own transaction
my $writer = $node->background_psql('postgres');
$writer->query_safe("INSERT INTO ev VALUES ('2024-01-20 12:00', 1000)");

# each run processes the new day and the day the late write of the run
# before staled
my @processed;
for my $i (1 .. $runs)
{
	my $end = "'2024-01-01'::timestamptz + interval '" . ($i + 1) . " days'";
	my $day = "'2024-01-01'::timestamptz + interval '$i days'";
	$node->safe_psql('postgres', "SELECT mb_alter('ev_daily', end_at => $end)");
	push @processed, $node->safe_psql('postgres',
		"SET microbatch.progress = off; SELECT windows FROM mb_run('ev_daily')");
	# a late row into the day that run just processed: an insert, an
	# update or a delete, in turn
	my $late = ('INSERT INTO ev VALUES (' . $day . " + interval '5 hours', 100)",
		"UPDATE ev SET v = v + 10 WHERE at = $day + interval '6 hours'",
		"DELETE FROM ev WHERE at = $day + interval '7 hours'")[$i % 3];
	$writer->query_safe($late);
}

is(join(',', @processed), join(',', 1, (2) x ($runs - 1)),
	'every run after the first also processed the day the late write before it staled');
is($node->safe_psql('postgres', "SELECT window_start, reason FROM mb_plan('ev_daily')"),
	"2024-01-31 00:00:00+00|stale", 'and the last late write stales the last day');

$node->safe_psql('postgres', "SET microbatch.progress = off; SELECT * FROM mb_run('ev_daily')");
is($node->safe_psql('postgres', q{
SELECT count(*) FROM ev_daily d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM ev
              WHERE at < (SELECT end_at FROM microbatch.pipelines WHERE name = 'ev_daily')
              GROUP BY 1) e ON e.day = d.day
 WHERE d.n IS DISTINCT FROM e.n}), '0', 'after one more run the target equals a recomputation');
is($node->safe_psql('postgres', 'SELECT count(*) FROM microbatch.stale'), '0', 'no mark is left');

$writer->quit;
$node->stop;
done_testing();

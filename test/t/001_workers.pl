# Runs in background workers: parallel equals sequential, progress lines,
# two runs at once, worker slots, and a caller that holds a lock a worker
# needs (DESIGN §4.5, §4.7).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;

my $node = new_node('workers');
create_events($node, 200_000, 20);
register_daily($node, 'seq', options => ", end_at => '2024-01-21', max_parallel => 1");
register_daily($node, 'par', options => ", end_at => '2024-01-21', max_parallel => 4");

# parallel and sequential runs give the same target, each correct
my ($ret, $out, $err) = $node->psql('postgres', "SELECT windows, succeeded, failed FROM mb_run('seq')");
is($out, '20|20|0', 'sequential run processes 20 windows');
($ret, $out, $err) = $node->psql('postgres', "SELECT windows, succeeded, failed FROM mb_run('par')");
is($out, '20|20|0', 'parallel run processes 20 windows');
like($err, qr/par: 20 windows to process \(20 new\), 4 workers/, 'parallel run announces 4 workers');
ok(rollup_matches($node, 'seq', '2024-01-21'), 'sequential target equals the direct rollup');
is($node->safe_psql('postgres',
	'SELECT count(*) FROM (SELECT * FROM seq EXCEPT ALL SELECT * FROM par) a'),
	'0', 'parallel target equals sequential target');
is($node->safe_psql('postgres',
	"SELECT count(*) > 0
	   FROM microbatch.windows w JOIN microbatch.windows v USING (pipeline_id)
	  WHERE w.pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'par')
	    AND w.window_start < v.window_start
	    AND w.started_at < v.finished_at AND v.started_at < w.finished_at"),
	't', 'windows of the parallel run overlapped in time');

# progress lines have the documented shape, one per window, in order of completion
like($err, qr/^(?:psql:\S+ )?NOTICE:  par: 1 of 20 OK day \[2024-01-\d\d 00:00:00\+00, 2024-01-\d\d 00:00:00\+00\) deleted 0, inserted [\d,]+ rows in \d+ ms$/m,
	'a window reports its bounds, rows and time');
like($err, qr/^(?:psql:\S+ )?NOTICE:  par: 20 of 20 OK day /m, 'the last window reports 20 of 20');
like($err, qr/^(?:psql:\S+ )?NOTICE:  par: finished: 20 of 20 windows succeeded, 0 failed, 0 skipped in [\d.]+ m?s$/m,
	'the run reports its totals');
my @lines = ($err =~ /^(?:psql:\S+ )?NOTICE:  par: \d+ of 20 OK/mg);
is(scalar(@lines), 20, 'one progress line per window');
($ret, $out, $err) = $node->psql('postgres',
	"SET microbatch.progress = off; SELECT windows FROM mb_run('par')");
is($err, '', 'microbatch.progress = off silences the run');

# the catalog shows the run as every window commits, and nothing is left running
is($node->safe_psql('postgres',
	"SELECT status, windows_total = windows_done FROM microbatch.runs
	  WHERE pipeline_id = (SELECT id FROM microbatch.pipelines WHERE name = 'par')
	  ORDER BY run_id LIMIT 1"),
	'succeeded|t', 'the run row is complete');
is(workers_left($node), '0', 'no worker outlives its run');

# two runs of one pipeline at once: the second fails at once, naming the first
register_daily($node, 'slow', from => ', pg_sleep(0.3)',
	options => ", end_at => '2024-01-21', max_parallel => 1");
my $first = $node->background_psql('postgres', on_error_stop => 0);
my $first_pid = $first->query_safe('SELECT pg_backend_pid()');
$first->query_until(qr/started/, "\\echo started\nSELECT * FROM mb_run('slow');\n");
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'PgSleep'") or die;
my $t0 = time;
($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\nSELECT * FROM mb_run('slow')");
ok(time - $t0 < 5, 'a second run fails at once');
like($err, qr/ERROR:  55P03: pipeline "slow" is busy/, 'with SQLSTATE 55P03');
like($err, qr/DETAIL:  Process $first_pid is running it/, 'naming the process that holds it');
($ret, $out, $err) = $node->psql('postgres', "SELECT pipeline FROM mb_run() ORDER BY 1");
like($err, qr/skipping pipeline "slow": another run of it is in progress/,
	'mb_run() for all pipelines skips the busy one with a notice');
is($out, "par\nseq", 'and runs the others');
$first->quit;
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'microbatch worker'") or die;

# a caller holding a lock that a worker needs gets a clear error within seconds
$t0 = time;
($ret, $out, $err) = $node->psql('postgres', qq{
BEGIN;
LOCK TABLE par IN ACCESS EXCLUSIVE MODE;
SELECT * FROM mb_run('par');
ROLLBACK;});
like($err, qr/run of pipeline "par" waits for a lock held by its own transaction/,
	'a run that would wait for its own caller fails');
ok(time - $t0 < 15, 'and fails within seconds');
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'microbatch worker'") or die;
is($node->safe_psql('postgres',
	"SELECT count(*) FROM microbatch.windows WHERE status = 'running'"),
	'0', 'nothing is left marked running');
is($node->safe_psql('postgres',
	"SELECT status FROM microbatch.runs ORDER BY run_id DESC LIMIT 1"),
	'cancelled', 'the run is recorded as cancelled');

# worker slots: fewer free than asked is said; none free is an error with a hint
my $small = new_node('small', conf => "max_worker_processes = 3\n");
create_events($small, 10_000, 5);
register_daily($small, 'wide', options => ", end_at => '2024-01-06', max_parallel => 8");
($ret, $out, $err) = $small->psql('postgres', "SELECT windows, succeeded FROM mb_run('wide')");
is($out, '5|5', 'a run with fewer slots than asked still completes');
like($err, qr/wide: using \d of 5 workers: no more background worker slots are free/,
	'and says it got fewer workers');
register_daily($small, 'hog', from => ', pg_sleep(2)', options => ", end_at => '2024-01-06', max_parallel => 8");
my $hog = $small->background_psql('postgres', on_error_stop => 0);
$hog->query_until(qr/started/, "\\echo started\nSELECT * FROM mb_run('hog');\n");
$small->poll_query_until('postgres',
	"SELECT count(*) >= 2 FROM pg_stat_activity WHERE backend_type = 'microbatch worker'") or die;
($ret, $out, $err) = $small->psql('postgres', "SELECT * FROM mb_run('wide')");
like($err, qr/could not start a background worker for pipeline "wide".*HINT:  Raise max_worker_processes/s,
	'no free slot is an error that names max_worker_processes');
# what a pg_cron job runs records the run that could not start
($ret, $out, $err) = $small->psql('postgres', "CALL microbatch.run_job('wide')");
like($err, qr/could not start a background worker for pipeline "wide"/,
	'a scheduled run without a free slot fails the same way');
is($small->safe_psql('postgres', q{
	SELECT last_run_status, last_run_error FROM microbatch.status WHERE pipeline = 'wide'}),
	'failed|could not start a background worker for pipeline "wide"; Every background worker slot is taken.',
	'and leaves a failed run row with the reason, which microbatch.status shows');
$hog->quit;
$small->stop;

done_testing();

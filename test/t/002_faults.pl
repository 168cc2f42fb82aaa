# Faults: a cancelled run, a statement_timeout, a worker killed with kill -9,
# a server stopped with -m immediate mid-run.  Nothing committed is lost,
# nothing half-done is visible, nothing is left marked running, and the next
# run completes the target exactly (DESIGN §4.4, §4.5).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;

my $node = new_node('faults');
create_events($node, 50_000, 10);
# every window sleeps, so a run can be caught in the middle of one
register_daily($node, 'slow', from => ', pg_sleep(0.4)',
	options => ", end_at => '2024-01-11', max_parallel => 2");

# wait_for_running waits until a window of "slow" is being processed
sub wait_for_running
{
	$node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
	  or die 'no window started';
}

# start_slow_run starts $sql in a session of its own, from an empty target
# and no window state (unless $keep_state), and returns the session and its
# pid once a window is being processed
sub start_slow_run
{
	my ($sql, $keep_state) = @_;
	unless ($keep_state)
	{
		$node->safe_psql('postgres', "SELECT mb_reset('slow')");
		$node->safe_psql('postgres', "TRUNCATE slow");
	}
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->query_until(qr/started/, "\\echo started\n$sql;\n");
	wait_for_running();
	return ($session, $pid);
}

# wait_until_back waits for the server to accept queries again after a
# crash restart: a psql started while it restarts can die before its query
# is written (a broken pipe), so each attempt is its own eval
sub wait_until_back
{
	for (1 .. 180)
	{
		my $up = eval { $node->safe_psql('postgres', 'SELECT 1') eq '1' };
		return 1 if $up;
		sleep 1;
	}
	return 0;
}

# settled checks what every fault must leave behind
sub settled
{
	my ($what) = @_;
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'microbatch worker'")
	  or die 'workers left behind';
	is($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.windows WHERE status = 'running'"),
		'0', "$what: no window is left marked running");
	is($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.runs WHERE status = 'running'"),
		'0', "$what: no run is left marked running");
	# every window recorded as succeeded holds exactly its rollup
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM microbatch.windows w
		  JOIN microbatch.pipelines p ON p.id = w.pipeline_id AND p.name = 'slow'
		 WHERE w.status = 'succeeded'
		   AND (SELECT coalesce(sum(n), 0) FROM slow WHERE day = w.window_start)
		    <> (SELECT count(*) FROM events WHERE created_at >= w.window_start AND created_at < w.window_end)}),
		'0', "$what: every succeeded window holds its rows, nothing half-written");
}

# finish runs the pipeline to completion and checks the result
sub finish
{
	my ($what) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET microbatch.progress = off; SELECT failed FROM mb_run('slow')");
	is($out, '0', "$what: the next run succeeds");
	ok(rollup_matches($node, 'slow', '2024-01-11'), "$what: the target equals a clean sequential run's");
}

# 1. pg_cancel_backend on the caller of mb_run
my ($session, $pid) = start_slow_run("SELECT * FROM mb_run('slow')", 1);
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
my ($out, $ret) = $session->query('SELECT 1');
like($session->{stderr}, qr/canceling statement due to user request|cancel/i, 'the caller sees the cancel');
$session->quit;
settled('cancel');
is($node->safe_psql('postgres', "SELECT status FROM microbatch.runs ORDER BY run_id DESC LIMIT 1"),
	'cancelled', 'cancel: the run is recorded as cancelled');
is($node->safe_psql('postgres', "SELECT count(*) > 0 FROM microbatch.windows WHERE status = 'failed' AND sqlstate = '57014'"),
	't', 'cancel: the window in flight is recorded as failed, to be run again');
finish('cancel');

# 2. statement_timeout on the caller, both for mb_run and for an in-session backfill
$node->safe_psql('postgres', "SELECT mb_reset('slow')");
$node->safe_psql('postgres', "TRUNCATE slow");
my ($r, $o, $err) = $node->psql('postgres', "SET statement_timeout = '1500ms'; SELECT * FROM mb_run('slow')");
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout stops mb_run');
settled('statement_timeout');
($r, $o, $err) = $node->psql('postgres',
	"SET statement_timeout = '1500ms'; CALL mb_backfill('slow', '2024-01-01', '2024-01-11', 1)");
like($err, qr/run of pipeline "slow" cancelled/, 'statement_timeout stops an in-session backfill');
settled('statement_timeout in session');
is($node->safe_psql('postgres', "SELECT kind, status FROM microbatch.runs ORDER BY run_id DESC LIMIT 1"),
	'backfill|cancelled', 'the in-session backfill is recorded as cancelled');
finish('statement_timeout');

# 3. kill -9 of a worker mid-window: the postmaster restarts every backend
($session, $pid) = start_slow_run("SELECT * FROM mb_run('slow')");
# the worker and its window from one row, the one that started its window
# last (a worker that moved on would have its window recorded succeeded)
my ($worker, $running) = split /\|/, $node->safe_psql('postgres',
	"SELECT pid, substring(query FROM '\\[([^,]+),') FROM pg_stat_activity
	  WHERE backend_type = 'microbatch worker' AND wait_event = 'PgSleep'
	  ORDER BY query_start DESC LIMIT 1");
ok($running ne '', 'the worker names the window it is processing');
ok($worker > 0, 'found a worker to kill');
kill9($node, $worker);
wait_until_back() or die 'server did not come back';
eval { $session->quit };
# the killed window was not recorded as done, and the next run processes it
# (a window in flight is never marked in the catalog: its transaction rolled back)
is($node->safe_psql('postgres',
	"SELECT count(*) FROM microbatch.windows WHERE window_start = '$running' AND status = 'succeeded'"),
	'0', 'kill -9: the window that was running is not recorded as succeeded');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM mb_plan('slow') WHERE window_start = '$running'"),
	'1', 'kill -9: the next run plans it');
finish('kill -9');
settled('kill -9');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM microbatch.runs WHERE status = 'failed'") > 0 ? 1 : 0, 1,
	'kill -9: the interrupted run is recorded as failed');

# 4. immediate shutdown mid-run
($session, $pid) = start_slow_run("SELECT * FROM mb_run('slow')");
$node->poll_query_until('postgres',
	"SELECT count(*) >= 2 FROM microbatch.windows WHERE status = 'succeeded'") or die;
my $committed = $node->safe_psql('postgres',
	"SELECT count(*) FROM microbatch.windows WHERE status = 'succeeded'");
$node->stop('immediate');
eval { $session->quit };
$node->start;
ok($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.windows WHERE status = 'succeeded'") >= $committed,
	'immediate shutdown: every committed window survives');
# before any run: the status view tells the truth about the dead run
is($node->safe_psql('postgres', q{
	SELECT s.last_run_status, s.running,
	       s.failed_windows = (SELECT count(*) FROM microbatch.windows w
	                            WHERE w.status IN ('failed', 'running'))
	  FROM microbatch.status s WHERE s.pipeline = 'slow'}),
	'failed|f|t', 'immediate shutdown: status counts the dead run and its windows as failed');
# the next run of any pipeline, here another one, settles what the dead run left
register_daily($node, 'bystander', options => ", end_at => '2024-01-02'");
$node->safe_psql('postgres', "SET microbatch.progress = off; SELECT * FROM mb_run('bystander')");
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM microbatch.windows WHERE status = 'running')
	     + (SELECT count(*) FROM microbatch.runs WHERE status = 'running')}),
	'0', 'immediate shutdown: a run of another pipeline settles the dead run');
finish('immediate shutdown');
settled('immediate shutdown');

# 5. a worker terminated (not crashed): the leader notices and says so
($session, $pid) = start_slow_run("SELECT * FROM mb_run('slow', 1)");
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'microbatch worker'");
($out, $ret) = $session->query('SELECT 1');
like($session->{stderr}, qr/background worker of pipeline "slow" ended before finishing its windows/,
	'a terminated worker: the leader reports it');
$session->quit;
# before any other run: the leader had the dead worker's window recorded
is($node->safe_psql('postgres', q{
	SELECT r.status, r.failed, r.succeeded + r.failed + r.skipped = r.windows_total,
	       (SELECT count(*) FROM microbatch.windows w
	         WHERE w.run_id = r.run_id AND w.status = 'failed' AND w.sqlstate = '57P01'),
	       (SELECT count(*) FROM microbatch.windows w WHERE w.status = 'running')
	  FROM microbatch.runs r ORDER BY r.run_id DESC LIMIT 1}),
	'failed|1|t|1|0', 'a terminated worker: its window is recorded failed and the run ended');
is($node->safe_psql('postgres', "SELECT failed_windows, last_run_status FROM microbatch.status WHERE pipeline = 'slow'"),
	'1|failed', 'a terminated worker: the status view shows the failure');
finish('terminated worker');
settled('terminated worker');

# 6. an in-session backfill whose backend is killed mid-window
($session, $pid) = start_slow_run("CALL mb_backfill('slow', '2024-01-01', '2024-01-11', 1)");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
eval { $session->quit };
finish('terminated backfill');
settled('terminated backfill');

# 7. the session leading mb_run is terminated: its workers stop too
($session, $pid) = start_slow_run("SELECT * FROM mb_run('slow')");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
eval { $session->quit };
settled('terminated leader');
is($node->safe_psql('postgres', "SELECT status FROM microbatch.runs ORDER BY run_id DESC LIMIT 1"),
	'cancelled', 'terminated leader: the workers record the run as cancelled');
finish('terminated leader');

# 8. a worker terminated in the middle of a chunk of coalesced windows: every
# window of the chunk is recorded failed, none half-done, and the next run
# processes them again
$node->safe_psql('postgres', "SELECT mb_alter('slow', coalesce_windows => true)");
($session, $pid) = start_slow_run(
	"SET microbatch.coalesce_target = '3'; SELECT * FROM mb_run('slow', 1)");
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'microbatch worker'");
($out, $ret) = $session->query('SELECT 1');
$session->quit;
is($node->safe_psql('postgres', q{
	SELECT r.status, r.failed, r.succeeded + r.failed + r.skipped = r.windows_total,
	       (SELECT count(*) FROM microbatch.windows w
	         WHERE w.run_id = r.run_id AND w.status = 'failed' AND w.sqlstate = '57P01'),
	       (SELECT count(*) % 3 FROM microbatch.windows w WHERE w.run_id = r.run_id AND w.status = 'succeeded')
	  FROM microbatch.runs r ORDER BY r.run_id DESC LIMIT 1}),
	'failed|3|t|3|0', 'a terminated worker mid-chunk: the 3 windows of its chunk are recorded failed (earlier chunks, if any, whole)');
# (on a loaded machine a chunk may have committed before the terminate landed)
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM slow s JOIN microbatch.windows w
	    ON s.day >= w.window_start AND s.day < w.window_end AND w.status = 'failed'}), '0',
	'a terminated worker mid-chunk: nothing of the chunk is in the target');
is($node->safe_psql('postgres', "SELECT count(*) FROM mb_plan('slow') WHERE reason = 'failed'"), '3',
	'a terminated worker mid-chunk: the next run plans the chunk again');
finish('terminated worker mid-chunk');
settled('terminated worker mid-chunk');

$node->stop;
done_testing();

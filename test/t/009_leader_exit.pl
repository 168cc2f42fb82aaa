# Every way the session leading a run can leave, as a role without
# privileges: its client goes away, it is terminated, cancelled, times out,
# or the server shuts down fast.  The server never crashes (the postmaster
# is never restarted, no process dies of a signal), the workers stop, the
# run is recorded as cancelled at once (no other run has to settle it), no
# window is left running, and the next run makes the target exact
# (DESIGN §4.4, §4.5).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;

my $node = new_node('leader_exit');
create_events($node, 20_000, 10);
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
GRANT SELECT ON events TO alice;
});
my @alice = (extra_params => [ '-U', 'alice' ]);
# every window sleeps, so that a run can be caught in the middle of one
$node->safe_psql('postgres', q{
CREATE TABLE alice.slow (day timestamptz, client int, n bigint);
SELECT mb_register('slow', 'alice.slow', 'day',
  $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n
      FROM public.events, pg_sleep(0.3) WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  'day', '2024-01-01', end_at => '2024-01-11', max_parallel => 2);
}, @alice);

my $started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
my $log_offset = 0;

# no_crash checks that no server process died of a signal since the last
# check, and that the postmaster was not restarted behind the test's back
sub no_crash
{
	my ($what) = @_;
	my $log = slurp_file($node->logfile);
	my $since = substr($log, $log_offset);
	$log_offset = length($log);
	unlike($since, qr/terminated by signal|terminated by exception|TRAP:/,
		"$what: no server process died of a signal");
	is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'), $started,
		"$what: the postmaster was not restarted");
}

# start_slow_run runs $sql as alice, from an empty target, and returns the
# session and its pid once a window is being processed
sub start_slow_run
{
	my ($sql) = @_;
	$node->safe_psql('postgres', "SELECT mb_reset('slow'); TRUNCATE alice.slow", @alice);
	my $session = $node->background_psql('postgres', on_error_stop => 0, @alice);
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->query_until(qr/started/, "\\echo started\n$sql;\n");
	$node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
	  or die 'no window started';
	return ($session, $pid);
}

# left_truthfully checks the state a leader's exit must leave, before any
# other run could settle it: workers gone, the run cancelled with counts
# that add up, no window running, and the next run exact
sub left_truthfully
{
	my ($what) = @_;
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'microbatch worker'")
	  or die "$what: workers left behind";
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM microbatch.runs WHERE status = 'running'")
	  or die "$what: the run stays running";
	is($node->safe_psql('postgres', q{
		SELECT r.status, r.succeeded + r.failed + r.skipped = r.windows_total,
		       r.succeeded = (SELECT count(*) FROM microbatch.windows w
		                       WHERE w.run_id = r.run_id AND w.status = 'succeeded')
		  FROM microbatch.runs r ORDER BY r.run_id DESC LIMIT 1}),
		'cancelled|t|t', "$what: the run is recorded as cancelled, its counts add up");
	is($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.windows WHERE status = 'running'"),
		'0', "$what: no window is left running");
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET microbatch.progress = off; SELECT failed FROM mb_run('slow')", @alice);
	is($out, '0', "$what: the next run succeeds");
	is($node->safe_psql('postgres', q{
		WITH expected AS (
		  SELECT date_trunc('day', created_at) AS day, client, count(*) AS n
		    FROM events WHERE created_at < '2024-01-11' GROUP BY 1, 2)
		SELECT (SELECT count(*) FROM (TABLE alice.slow EXCEPT ALL TABLE expected) a)
		     + (SELECT count(*) FROM (TABLE expected EXCEPT ALL TABLE alice.slow) b)}),
		'0', "$what: the target equals a recomputation from scratch");
	no_crash($what);
}

# the client goes away: psql killed while its mb_run waits for workers (the
# leader learns it when it sends the next progress line, and leaves FATAL)
foreach my $case (
	[ 'client gone during mb_run', "SELECT * FROM mb_run('slow')" ],
	[ 'client gone during an in-session backfill',
		"CALL mb_backfill('slow', '2024-01-01', '2024-01-11', 1)" ])
{
	my ($what, $sql) = @$case;
	my ($session, $pid) = start_slow_run($sql);
	$session->{run}->kill_kill;
	$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
	  or die "$what: the leader did not leave";
	left_truthfully($what);
}

# the leader terminated (FATAL), cancelled, or out of time (ERROR)
foreach my $case (
	[ 'terminated leader of mb_run', "SELECT * FROM mb_run('slow')", 'pg_terminate_backend' ],
	[ 'terminated in-session backfill', "CALL mb_backfill('slow', '2024-01-01', '2024-01-11', 1)",
		'pg_terminate_backend' ],
	[ 'cancelled leader of mb_run', "SELECT * FROM mb_run('slow')", 'pg_cancel_backend' ],
	[ 'cancelled in-session backfill', "CALL mb_backfill('slow', '2024-01-01', '2024-01-11', 1)",
		'pg_cancel_backend' ],
	[ 'statement_timeout of mb_run', "SET statement_timeout = '1s'; SELECT * FROM mb_run('slow')", '' ])
{
	my ($what, $sql, $signal) = @$case;
	my ($session, $pid) = start_slow_run($sql);
	$node->safe_psql('postgres', "SELECT $signal($pid)") if $signal;
	$node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid AND state = 'active'")
	  or die "$what: the leader did not stop";
	eval { $session->quit };
	left_truthfully($what);
}

# a fast shutdown terminates the leader and its workers together
foreach my $case (
	[ 'fast shutdown during mb_run', "SELECT * FROM mb_run('slow')" ],
	[ 'fast shutdown during an in-session backfill',
		"CALL mb_backfill('slow', '2024-01-01', '2024-01-11', 1)" ])
{
	my ($what, $sql) = @$case;
	my ($session, $pid) = start_slow_run($sql);
	$node->stop('fast');
	eval { $session->quit };
	my $log = slurp_file($node->logfile);
	unlike(substr($log, $log_offset), qr/terminated by signal|terminated by exception|TRAP:/,
		"$what: no server process died of a signal");
	$node->start;
	$started = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
	$log_offset = length(slurp_file($node->logfile));
	# the workers ended with the server; the dead run is settled by the next
	# run (a worker that is shut down cannot record anything)
	is($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.windows WHERE status = 'running'"),
		'0', "$what: no window is left running");
	my ($ret, $out, $err) = $node->psql('postgres',
		"SET microbatch.progress = off; SELECT failed FROM mb_run('slow')", @alice);
	is($out, '0', "$what: the next run succeeds");
	is($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.runs WHERE status = 'running'"),
		'0', "$what: no run is left running");
	no_crash("$what, after the restart");
}

$node->stop;
done_testing();

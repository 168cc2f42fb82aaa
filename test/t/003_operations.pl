# Operations: a pg_cron schedule that runs and succeeds, the no-pg_cron
# error, dropped targets and a dropped extension leaving no job behind,
# dump/restore of pipelines, state and data checks, the 0.1 -> 0.2 -> 0.3
# upgrades, and pruning of run history (DESIGN §3, §4.10, §8).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;

# without pg_cron the scheduling parts are skipped, the rest runs
my $cron = have_pg_cron();
diag('pg_cron is not installed: the scheduling tests are skipped') unless $cron;
my $node = new_node('operations', conf => $cron ? qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
} : '');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron') if $cron;
create_events($node, 20_000, 5);
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
GRANT SELECT ON events TO alice;
GRANT CREATE ON SCHEMA public TO alice;
});
$node->safe_psql('postgres', 'GRANT USAGE ON SCHEMA cron TO alice') if $cron;

# a pipeline of alice's, scheduled by a superuser, runs every minute as alice
$node->safe_psql('postgres', q{
SET ROLE alice;
CREATE TABLE cron_daily (day timestamptz, client int, n bigint, total numeric, who text);
SELECT mb_register('cron_daily', 'cron_daily', 'day',
  $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total,
           current_user::text AS who
      FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  'day', '2024-01-01', end_at => '2024-01-06');
});
SKIP:
{
skip 'pg_cron is not installed', 11 unless $cron;
my $jobid = $node->safe_psql('postgres', "SELECT mb_schedule('cron_daily', '* * * * *')");
ok($jobid > 0, 'mb_schedule returns the job id');
is($node->safe_psql('postgres', "SELECT jobname, schedule, username FROM cron.job"),
	'microbatch:cron_daily|* * * * *|alice', 'the job is named after the pipeline and owned by its owner');
is($node->safe_psql('postgres', "SELECT mb_schedule('cron_daily', '*/2 * * * *')"), $jobid,
	'rescheduling replaces the job');
is($node->safe_psql('postgres', "SELECT count(*) || ' ' || min(schedule) FROM cron.job"), '1 */2 * * * *',
	'one job, with the new schedule');
$node->safe_psql('postgres', "SELECT mb_schedule('cron_daily', '* * * * *')");
is($node->safe_psql('postgres', "SELECT schedule FROM microbatch.status WHERE pipeline = 'cron_daily'"),
	'* * * * *', 'microbatch.status shows the schedule');
# pg_cron 1.4 runs at most once a minute: allow up to three
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $jobid AND status IN ('succeeded', 'failed')",
	't') or die 'pg_cron did not run the job';
is($node->safe_psql('postgres', "SELECT status FROM cron.job_run_details WHERE jobid = $jobid ORDER BY runid LIMIT 1"),
	'succeeded', 'the scheduled run succeeded');
is($node->safe_psql('postgres', "SELECT DISTINCT who FROM cron_daily"), 'alice', 'it ran as the pipeline owner');
is($node->safe_psql('postgres', q{
	SELECT last_run_status, failed_windows, missing_windows, high_water FROM microbatch.status
	 WHERE pipeline = 'cron_daily'}),
	'succeeded|0|0|2024-01-06 00:00:00+00', 'microbatch.status shows the run');
is($node->safe_psql('postgres', "SELECT mb_unschedule('cron_daily')"), 't', 'mb_unschedule removes the job');
is($node->safe_psql('postgres', "SELECT mb_unschedule('cron_daily')"), 'f', 'and says so when there is none');
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job"), '0', 'no job is left');
}

# the state the scheduled run leaves, for what follows
$node->safe_psql('postgres', "SET microbatch.progress = off; SELECT * FROM mb_run('cron_daily')") unless $cron;

# without pg_cron in the cluster: a clear error and a hint
my $plain = new_node('plain');
$plain->safe_psql('postgres', 'CREATE DATABASE other');
$plain->safe_psql('other', 'CREATE EXTENSION microbatch');
$plain->safe_psql('other', q{
CREATE TABLE src (at timestamptz);
CREATE TABLE dst (day timestamptz, n bigint);
SELECT mb_register('p', 'dst', 'day', $$SELECT date_trunc('day', at) AS day, count(*) AS n FROM src WHERE at >= $1 AND at < $2 GROUP BY 1$$, 'day', '2024-01-01');
});
my ($ret, $out, $err) = $plain->psql('other', "SELECT mb_schedule('p', '* * * * *')");
like($err, qr/ERROR:  pg_cron is not installed in database "other".*HINT:  Add pg_cron to shared_preload_libraries/s,
	'mb_schedule without pg_cron says how to install it');
$plain->stop;

# a dropped target disables its pipeline and removes its job; a renamed one keeps working
$node->safe_psql('postgres', q{
CREATE TABLE doomed (day timestamptz, client int, n bigint, total numeric);
SELECT mb_register('doomed', 'doomed', 'day',
  $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
      FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  'day', '2024-01-01', end_at => '2024-01-03');
ALTER TABLE doomed RENAME TO renamed;
});
$node->safe_psql('postgres', "SELECT mb_schedule('doomed', '* * * * *')") if $cron;
($ret, $out, $err) = $node->psql('postgres', "SELECT windows, succeeded FROM mb_run('doomed')");
is($out, '2|2', 'a renamed target keeps working');
($ret, $out, $err) = $node->psql('postgres', 'DROP TABLE renamed');
like($err, qr/pipeline "doomed" is disabled: its target table was dropped/, 'dropping the target says what happened');
is($node->safe_psql('postgres', "SELECT enabled FROM microbatch.pipelines WHERE name = 'doomed'"), 'f',
	'dropping the target disables its pipeline');
SKIP:
{
skip 'pg_cron is not installed', 1 unless $cron;
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job WHERE jobname = 'microbatch:doomed'"), '0',
	'and removes its job');
}
($ret, $out, $err) = $node->psql('postgres', "SELECT * FROM mb_run('doomed')");
like($err, qr/target table of pipeline "doomed" no longer exists/, 'running it says the target is gone');
$node->safe_psql('postgres', "SELECT mb_drop('doomed')");

# dump and restore: pipelines, window state and history survive, and plan the same
$node->safe_psql('postgres', "CALL mb_backfill('cron_daily', '2024-01-02', '2024-01-03')");
$node->safe_psql('postgres', "UPDATE events SET amount = amount WHERE false");
$node->safe_psql('postgres', q{
SELECT mb_add_check('cron_daily', 'enough_clients', 'min_rows 5');
SELECT mb_add_check('cron_daily', 'has_totals', 'not_null total, n');
SELECT mb_add_check('cron_daily', 'no_refunds',
  $$SELECT bool_and(total >= 0) FROM cron_daily WHERE day >= $1 AND day < $2$$);
SELECT mb_alter('cron_daily', allow_reset => false);
});
my $checks_query = "SELECT p.name, c.check_name, c.check_sql FROM microbatch.checks c "
	. "JOIN microbatch.pipelines p ON p.id = c.pipeline_id ORDER BY 1, 2";
my $checks_before = $node->safe_psql('postgres', $checks_query);
my $plan_before = $node->safe_psql('postgres', "SELECT * FROM mb_plan('cron_daily')");
my $state_before = $node->safe_psql('postgres',
	"SELECT window_start, window_end, status, attempts FROM microbatch.windows ORDER BY 1");
my $runs_before = $node->safe_psql('postgres', "SELECT count(*) FROM microbatch.runs");
my $dump = $node->basedir . '/microbatch.dump';
$node->command_ok(['pg_dump', '-Fc', '-d', $node->connstr('postgres'), '-f', $dump], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
# pg_cron lives only in cron.database_name: restore everything but it
my $list = $node->basedir . '/microbatch.list';
my ($stdout, $stderr);
IPC::Run::run(['pg_restore', '-l', $dump], '>', \$stdout) or die 'pg_restore -l failed';
open(my $fh, '>', $list) or die;
print $fh join("\n", grep { !/pg_cron| cron / } split(/\n/, $stdout)), "\n";
close($fh);
$node->command_ok(['pg_restore', '--exit-on-error', '-L', $list, '-d', $node->connstr('restored'), $dump],
	'pg_restore succeeds');
is($node->safe_psql('restored', "SELECT * FROM mb_plan('cron_daily')"), $plan_before,
	'the restored pipeline plans the same windows');
is($node->safe_psql('restored',
	"SELECT window_start, window_end, status, attempts FROM microbatch.windows ORDER BY 1"),
	$state_before, 'window state is restored');
is($node->safe_psql('restored', "SELECT count(*) FROM microbatch.runs"), $runs_before, 'run history is restored');
is($node->safe_psql('restored', $checks_query), $checks_before, 'data checks are restored');
like($checks_before, qr/enough_clients\|min_rows 5.*has_totals.*no_refunds\|SELECT bool_and/s,
	'with their definitions');
is($node->safe_psql('restored', "SELECT allow_reset FROM microbatch.pipelines WHERE name = 'cron_daily'"),
	'f', 'allow_reset is restored');
($ret, $out, $err) = $node->psql('restored', "SELECT windows, succeeded FROM mb_run('cron_daily')");
is($out, '1|1', 'the restored pipeline runs from its restored state');
# the restored checks are in force: a day with too few clients fails and keeps its rows
$node->safe_psql('restored',
	"DELETE FROM events WHERE created_at >= '2024-01-02' AND created_at < '2024-01-03' AND client >= 3");
($ret, $out, $err) = $node->psql('restored', "CALL mb_backfill('cron_daily', '2024-01-02', '2024-01-03')");
like($err, qr/pipeline "cron_daily" does not allow mb_backfill/, 'the restored pipeline refuses a backfill');
$node->safe_psql('restored', "SELECT mb_alter('cron_daily', allow_reset => true)");
($ret, $out, $err) = $node->psql('restored', "CALL mb_backfill('cron_daily', '2024-01-02', '2024-01-03')");
like($err,
	qr/NOTICE:  cron_daily: 1 of 1 FAILED day \[2024-01-02 00:00:00\+00, 2024-01-03 00:00:00\+00\): check "enough_clients" failed for window day \[2024-01-02 00:00:00\+00, 2024-01-03 00:00:00\+00\): 3 rows inserted, min_rows is 5/,
	'a restored check fails the window, and the progress line names it');
like($err, qr/ERROR:  pipeline "cron_daily": 1 of 1 windows failed/, 'the backfill ends with an error');
is($node->safe_psql('restored',
	"SELECT status, sqlstate FROM microbatch.windows WHERE window_start = '2024-01-02'"),
	'failed|23514', 'the window is recorded failed with SQLSTATE 23514');
is($node->safe_psql('restored', "SELECT count(*) FROM cron_daily WHERE day = '2024-01-02'"), '10',
	'and keeps its old rows');
is($node->safe_psql('restored',
	"SELECT mb_register('fresh', 'cron_daily', 'day', \$\$SELECT date_trunc('day', created_at) AS day, count(*) AS n FROM events WHERE created_at >= \$1 AND created_at < \$2 GROUP BY 1\$\$, 'day', '2024-02-01') > (SELECT max(id) FROM microbatch.pipelines WHERE name <> 'fresh')"),
	't', 'restored sequences hand out new ids');

# DROP EXTENSION removes the jobs it created, and only if the drop happens
SKIP:
{
skip 'pg_cron is not installed', 2 unless $cron;
$node->safe_psql('postgres', "SELECT mb_schedule('cron_daily', '0 * * * *')");
$node->safe_psql('postgres', "SELECT cron.schedule('someone_else', '0 0 * * *', 'SELECT 1')");
($ret, $out, $err) = $node->psql('postgres', 'BEGIN; DROP EXTENSION microbatch CASCADE; ROLLBACK;');
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job"), '2', 'a rolled-back DROP EXTENSION keeps the jobs');
$node->safe_psql('postgres', 'DROP EXTENSION microbatch CASCADE');
is($node->safe_psql('postgres', "SELECT string_agg(jobname, ',') FROM cron.job"), 'someone_else',
	'DROP EXTENSION removes its jobs and no others');
}
$node->safe_psql('postgres', 'DROP EXTENSION microbatch CASCADE') unless $cron;

# upgrade 0.1 -> 0.2 keeps every pipeline and window
$node->safe_psql('postgres', q{
CREATE EXTENSION microbatch VERSION '0.1';
CREATE TABLE up (day timestamptz, client int, n bigint, total numeric);
SELECT mb_register('up', 'up', 'day',
  $$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
      FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2$$,
  'day', '2024-01-01', end_at => '2024-01-04');
CALL mb_backfill('up', '2024-01-01', '2024-01-04');
});
my $before = $node->safe_psql('postgres', "SELECT * FROM microbatch.windows ORDER BY window_start");
$node->safe_psql('postgres', "ALTER EXTENSION microbatch UPDATE TO '0.2'");
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'microbatch'"), '0.2',
	'the extension updates to 0.2');
is($node->safe_psql('postgres', "SELECT * FROM microbatch.windows ORDER BY window_start"), $before,
	'the update keeps window state');
is($node->safe_psql('postgres', "SELECT * FROM mb_plan('up')"),
	"2024-01-03 00:00:00+00|2024-01-04 00:00:00+00|lookback", 'and the updated pipeline plans from it');
$node->safe_psql('postgres', "ALTER EXTENSION microbatch UPDATE TO '0.3'");
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'microbatch'"), '0.3',
	'the extension updates to 0.3');
is($node->safe_psql('postgres', "SELECT * FROM microbatch.windows ORDER BY window_start"), $before,
	'that update keeps window state too');
is($node->safe_psql('postgres', "SELECT allow_reset FROM microbatch.pipelines WHERE name = 'up'"), 't',
	'existing pipelines allow resets');
$node->safe_psql('postgres', "SELECT mb_add_check('up', 'some_rows', 'min_rows 1')");
is($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.checks"), '1', 'and take checks');

# pruning history: old runs go, the runs that windows' latest states point to stay
$node->safe_psql('postgres', "SET microbatch.progress = off; CALL mb_backfill('up', '2024-01-01', '2024-01-02'); CALL mb_backfill('up', '2024-01-01', '2024-01-02')");
is($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.runs"), '3', 'three runs recorded');
is($node->safe_psql('postgres', "SELECT mb_prune('0 seconds', 'up')"), '1',
	'mb_prune deletes the run no window points to any more');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM microbatch.windows w WHERE NOT EXISTS (SELECT 1 FROM microbatch.runs r WHERE r.run_id = w.run_id)"),
	'0', 'every window still has the run of its latest state');
is($node->safe_psql('postgres', "SELECT mb_prune('1 day')"), '0', 'recent runs are kept');

$node->stop;
done_testing();

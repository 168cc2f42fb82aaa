# Scheduling the way DBAs set it up: pg_cron in one database (the default,
# "postgres"), pipelines in another, owned by a role without superuser.
# The job is created through cron.schedule_in_database after the exact
# grants are asked for, really runs, and microbatch.status shows its
# outcome, also when it fails; a run that could not start is recorded; a
# pipeline complete up to its end_at has no lag (DESIGN §3, §4.4, §6).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;

plan skip_all => 'pg_cron is not installed: nothing to schedule with' unless have_pg_cron();

my $node = new_node('scheduling', conf => qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
});
$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
my $cron_version = $node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'");
$node->safe_psql('postgres', q{
CREATE ROLE bob LOGIN;
CREATE DATABASE app;
});
$node->safe_psql('app', q{
CREATE EXTENSION microbatch;
GRANT CREATE ON SCHEMA public TO bob;
CREATE TABLE events (created_at timestamptz NOT NULL, amount int);
INSERT INTO events SELECT '2024-01-01'::timestamptz + i * interval '10 minutes', i % 7
  FROM generate_series(0, 287) i;
GRANT SELECT ON events TO bob;
SET ROLE bob;
CREATE TABLE daily (day timestamptz, n bigint, total bigint, who text);
SELECT mb_register('daily', 'daily', 'day',
  $$SELECT date_trunc('day', created_at) AS day, count(*) AS n, sum(amount) AS total,
           current_user::text AS who
      FROM events WHERE created_at >= $1 AND created_at < $2 GROUP BY 1$$,
  'day', '2024-01-01', end_at => '2024-01-02');
});
is($node->safe_psql('app', "SELECT lag IS NULL FROM microbatch.status"), 't',
	'a pipeline that never ran has no lag yet');

# pg_cron 1.3 has no cron.schedule_in_database: the error says what to do
if ($cron_version lt '1.4')
{
	my ($ret, $out, $err) = $node->psql('app', "SET ROLE bob; SELECT mb_schedule('daily', '* * * * *')");
	like($err, qr/pg_cron in database "postgres" cannot schedule jobs in other databases.*HINT:  Update pg_cron/s,
		"pg_cron $cron_version cannot schedule into another database, and the error says so");
	$node->stop;
	done_testing();
	exit 0;
}

# a missing grant: the error shows the exact GRANT, and nothing is scheduled
my ($ret, $out, $err) = $node->psql('app', "SET ROLE bob; SELECT mb_schedule('daily', '* * * * *')");
like($err,
	qr/ERROR:  role "bob" may not create pg_cron jobs.*HINT:  As a superuser, in database "postgres": GRANT USAGE ON SCHEMA cron TO bob; GRANT EXECUTE ON FUNCTION cron.schedule_in_database\(text,text,text,text,text,boolean\) TO bob;/s,
	'without the grants, mb_schedule shows the GRANT it needs');
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job"), '0', 'and schedules nothing');

# with them, bob's job is made in postgres for database app, as bob
$node->safe_psql('postgres', q{
GRANT USAGE ON SCHEMA cron TO bob;
GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO bob;
});
# pg_cron 1.5 and later run jobs every few seconds; 1.4 once a minute
my $schedule = $cron_version ge '1.5' ? '2 seconds' : '* * * * *';
my $jobid = $node->safe_psql('app', "SET ROLE bob; SELECT mb_schedule('daily', '$schedule')");
ok($jobid > 0, 'mb_schedule from another database returns the job id');
is($node->safe_psql('postgres', "SELECT jobname, database, username, command FROM cron.job WHERE jobid = $jobid"),
	"microbatch:app:daily|app|bob|CALL microbatch.run_job('daily')",
	'the job runs in the pipeline\'s database as its owner');
is($node->safe_psql('app', "SET ROLE bob; SELECT schedule FROM microbatch.status WHERE pipeline = 'daily'"),
	$schedule, 'microbatch.status in the pipeline\'s database shows the schedule');
is($node->safe_psql('app', "SELECT cron_job FROM microbatch.pipelines WHERE name = 'daily'"), $jobid,
	'the pipeline keeps the id of its job');

# the job really runs: as bob, in app
$node->poll_query_until('app', "SELECT count(*) > 0 FROM daily", 't')
	or die 'the scheduled job never filled the target';
$node->poll_query_until('app', "SELECT last_job_status FROM microbatch.status WHERE pipeline = 'daily'",
	'succeeded') or die 'pg_cron did not record a successful run';
is($node->safe_psql('app', "SELECT who, n, total FROM daily"), 'bob|144|426', 'the job ran as the owner, over the window');

# another role's job of the same name is not the pipeline's: status shows the
# job whose id mb_schedule kept, not mallory's failing one, even to a DBA who
# may see both
$node->safe_psql('postgres', q{
CREATE ROLE mallory LOGIN;
GRANT USAGE ON SCHEMA cron TO mallory;
GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text,text,text,text,text,boolean) TO mallory;
});
my $mallory_schedule = $cron_version ge '1.5' ? '3 seconds' : '*/1 * * * *';
my $mallory_job = $node->safe_psql('postgres',
	"SET ROLE mallory; SELECT cron.schedule_in_database('microbatch:app:daily', '$mallory_schedule', 'SELECT 1/0', 'app')");
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM cron.job_run_details WHERE jobid = $mallory_job AND status = 'failed'", 't')
	or die 'pg_cron did not run mallory\'s job';
is($node->safe_psql('app', "SELECT schedule, last_job_status, last_job_message FROM microbatch.status WHERE pipeline = 'daily'"),
	"$schedule|succeeded|CALL", 'microbatch.status shows the pipeline\'s own job, not another role\'s of the same name');
$node->safe_psql('postgres', "SELECT cron.unschedule($mallory_job)");
is($node->safe_psql('app', q{
	SELECT last_run_status, high_water, lag, last_run_error IS NULL FROM microbatch.status WHERE pipeline = 'daily'}),
	'succeeded|2024-01-02 00:00:00+00|00:00:00|t',
	'a pipeline complete up to its end_at has lag 0');

# a failing job: its message shows in microbatch.status, and in the run's row
$node->safe_psql('app', "SET ROLE bob; SELECT mb_alter('daily', query => \$\$SELECT date_trunc('day', created_at) AS day, count(*) / 0 AS n, 0 AS total, 'x' AS who FROM events WHERE created_at >= \$1 AND created_at < \$2 GROUP BY 1\$\$)");
$node->poll_query_until('app', "SELECT last_job_status FROM microbatch.status WHERE pipeline = 'daily'",
	'failed') or die 'pg_cron did not record the failed run';
like($node->safe_psql('app', "SET ROLE bob; SELECT last_job_message FROM microbatch.status WHERE pipeline = 'daily'"),
	qr/pipeline "daily": \d+ of \d+ windows failed/, 'microbatch.status shows the failed job\'s message');
like($node->safe_psql('app', "SET ROLE bob; SELECT last_run_status || ': ' || last_run_error FROM microbatch.status WHERE pipeline = 'daily'"),
	qr/^failed: .*division by zero/, 'and the run\'s row says why it failed');
is($node->safe_psql('app', "SELECT who FROM daily"), 'bob', 'the failed window left the target as it was');

# a job that cannot start a run: recorded as a failed run with the reason
# (what the job runs, called directly: pg_cron 1.4 would take another minute)
$node->safe_psql('app', "SET ROLE bob; SELECT mb_unschedule('daily'); SELECT mb_alter('daily', enabled => false)");
($ret, $out, $err) = $node->psql('app', "SET ROLE bob; CALL microbatch.run_job('daily')");
like($err, qr/pipeline "daily" is disabled/, 'the job of a disabled pipeline fails');
is($node->safe_psql('app', q{
	SELECT status, kind, windows_total, error, finished_at IS NOT NULL FROM microbatch.runs
	 ORDER BY run_id DESC LIMIT 1}),
	'failed|run|0|pipeline "daily" is disabled|t', 'and leaves a failed run row with the reason');
is($node->safe_psql('app', "SET ROLE bob; SELECT last_run_status, last_run_error FROM microbatch.status"),
	'failed|pipeline "daily" is disabled', 'which microbatch.status shows');
$node->safe_psql('app', "SET ROLE bob; SELECT mb_alter('daily', enabled => true); SELECT mb_schedule('daily', '0 0 * * *')");

# another role sees neither bob's jobs nor their messages
$node->safe_psql('app', 'CREATE ROLE eve');
is($node->safe_psql('app', "SET ROLE eve; SELECT count(*) FROM microbatch.cron_jobs()"), '0',
	'another role does not see bob\'s jobs');

# unscheduling from app removes the job in postgres, and only it
$node->safe_psql('postgres', "SELECT cron.schedule('other', '0 0 * * *', 'SELECT 1')");
is($node->safe_psql('app', "SET ROLE bob; SELECT mb_unschedule('daily')"), 't', 'mb_unschedule removes the job');
is($node->safe_psql('postgres', "SELECT string_agg(jobname, ',') FROM cron.job"), 'other', 'and no other');
is($node->safe_psql('app', "SELECT cron_job IS NULL FROM microbatch.pipelines WHERE name = 'daily'"), 't',
	'and forgets its id');
is($node->safe_psql('app', "SET ROLE bob; SELECT mb_unschedule('daily')"), 'f', 'and then says there is none');

# pg_dump and restore into another database: the restored pipeline has no job
# there (the dumped id is the job of database app) until it is scheduled, and
# each database then shows its own job
$jobid = $node->safe_psql('app', "SET ROLE bob; SELECT mb_schedule('daily', '0 0 * * *')");
my $dump = $node->basedir . '/app.dump';
$node->command_ok(['pg_dump', '-Fc', '-d', $node->connstr('app'), '-f', $dump], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE app_restored');
$node->command_ok(['pg_restore', '--exit-on-error', '-d', $node->connstr('app_restored'), $dump],
	'pg_restore succeeds');
is($node->safe_psql('app_restored', "SELECT cron_job, schedule IS NULL FROM microbatch.pipelines p JOIN microbatch.status s ON s.pipeline = p.name"),
	"$jobid|t", 'the restored pipeline keeps the dumped id but shows no job of another database');
my $restored_job = $node->safe_psql('app_restored', "SET ROLE bob; SELECT mb_schedule('daily', '30 0 * * *')");
is($node->safe_psql('app_restored', "SELECT schedule FROM microbatch.status"), '30 0 * * *',
	'scheduled again, it shows its own job');
is($node->safe_psql('app', "SELECT schedule FROM microbatch.status"), '0 0 * * *', 'and the original its own');

# DROP DATABASE leaves its pipelines' jobs behind (no trigger fires); the next
# call microbatch makes to pg_cron, from any database, removes them, and no
# other job (a read-only one writes nothing)
$node->safe_psql('postgres', 'DROP DATABASE app_restored WITH (FORCE)');
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job WHERE database = 'app_restored'"), '1',
	'a dropped database leaves its pipeline\'s job');
$node->safe_psql('app', "BEGIN READ ONLY; SELECT count(*) FROM microbatch.status; COMMIT");
is($node->safe_psql('postgres', "SELECT count(*) FROM cron.job WHERE database = 'app_restored'"), '1',
	'reading the status in a read-only transaction removes nothing');
$node->safe_psql('app', "SELECT count(*) FROM microbatch.status");
is($node->safe_psql('postgres', q{SELECT string_agg(jobname || ' in ' || database, ', ' ORDER BY jobname) FROM cron.job}),
	'microbatch:app:daily in app, other in postgres', 'reading it removes the job of the dropped database, and only it');
$node->safe_psql('postgres', q{
CREATE DATABASE gone;
\c gone
CREATE EXTENSION microbatch;
CREATE TABLE t (at timestamptz);
ALTER TABLE t OWNER TO bob;
SET ROLE bob;
SELECT mb_register('p', 't', 'at', $$SELECT at FROM t WHERE at >= $1 AND at < $2$$, 'day', '2024-01-01');
SELECT mb_schedule('p', '0 0 * * *');
});
$node->safe_psql('postgres', 'DROP DATABASE gone WITH (FORCE)');
$node->safe_psql('app', "SET ROLE bob; SELECT mb_unschedule('daily')");
is($node->safe_psql('postgres', "SELECT string_agg(jobname, ',') FROM cron.job"), 'other',
	'so does mb_unschedule');
like(slurp_file($node->logfile), qr/removed 1 pg_cron jobs of pipelines in databases that no longer exist/,
	'the server log says so');

# DROP EXTENSION in app removes the jobs it made in postgres
$node->safe_psql('app', "SET ROLE bob; SELECT mb_schedule('daily', '0 0 * * *')");
$node->safe_psql('app', 'DROP EXTENSION microbatch CASCADE');
is($node->safe_psql('postgres', "SELECT string_agg(jobname, ',') FROM cron.job"), 'other',
	'DROP EXTENSION removes its jobs in the cron database');

$node->stop;
done_testing();

# Settings that the library reads as it loads, and a hot standby.
#
# A bad microbatch.* value in postgresql.conf or ALTER DATABASE ... SET is
# reported and replaced by the default: it never stops the library from
# loading (every call failed, then "attempt to redefine parameter"), and a
# reload still applies the lines after it.  On a standby, runs and changes
# of pipelines are refused up front with SQLSTATE 25006 and a hint, and
# reading works (DESIGN §4.9, §11).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;

my $node = new_node('settings', init => { allows_streaming => 1 }, conf => qq{
microbatch.coalesce_target = 'soon'
microbatch.progress = off
});
create_events($node, 2_000, 3);
register_daily($node, 'daily', options => ", end_at => '2024-01-04'");

# 1. postgresql.conf: the library loads, says what is wrong, keeps the default
foreach my $attempt (1, 2)
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"SELECT count(*) FROM mb_windows('day', '2024-01-01', '2024-01-04'); SHOW microbatch.coalesce_target; SHOW microbatch.progress");
	is($ret, 0, "bad coalesce_target in postgresql.conf, call $attempt: microbatch works");
	is($out, "3\n1 month\noff", "call $attempt: the bad value is replaced by the default, the next line applies");
	like($err, qr/WARNING:  microbatch.coalesce_target must be a positive interval or a number of windows, got "soon"/,
		"call $attempt: the bad value is reported");
}
my ($ret, $out, $err) = $node->psql('postgres', "SELECT windows, succeeded FROM mb_run('daily')");
is($out, '3|3', 'bad coalesce_target in postgresql.conf: a run works, in its workers too');

# 2. ALTER DATABASE ... SET, stored without the library loaded
$node->safe_psql('postgres', "CREATE DATABASE other");
$node->safe_psql('other', "ALTER DATABASE other SET microbatch.coalesce_target = '-1 day'");
$node->safe_psql('other', 'CREATE EXTENSION microbatch');
($ret, $out, $err) = $node->psql('other',
	"SELECT count(*) FROM mb_windows('day', '2024-01-01', '2024-01-03'); SELECT count(*) FROM mb_windows('day', '2024-01-01', '2024-01-02')");
is($ret, 0, 'bad coalesce_target set for the database: microbatch works');
is($out, "2\n1", 'bad coalesce_target set for the database: every call works, none redefines the settings');
unlike($err, qr/redefine/, 'no "attempt to redefine parameter"');
# and it is refused where it can be checked
($ret, $out, $err) = $node->psql('postgres',
	"SELECT count(*) FROM mb_windows('day', '2024-01-01', '2024-01-02'); SET microbatch.coalesce_target = '0'");
like($err, qr/microbatch.coalesce_target must be at least one window, got "0"/,
	'a bad value set in a session is refused with the reason');

# 3. a reload with a bad line applies the lines after it, in a session that
# has the library loaded
my $session = $node->background_psql('postgres');
$session->query("SELECT count(*) FROM mb_windows('day', '2024-01-01', '2024-01-02')");
$node->append_conf('postgresql.conf', qq{
microbatch.coalesce_target = 'whenever'
work_mem = '7MB'
});
$node->reload;
$node->poll_query_until('postgres', "SELECT setting = '7168' FROM pg_settings WHERE name = 'work_mem'")
  or die 'reload not seen';
is(scalar $session->query('SHOW work_mem'), '7MB',
	'reload with a bad microbatch line: the next line applies in a session with the library loaded');
is(scalar $session->query('SHOW microbatch.coalesce_target'), '1 month',
	'reload with a bad microbatch line: the old value stays');
$session->quit;

# 4. a hot standby: runs and changes refused with 25006, reading works
$node->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'backup', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
foreach my $call (
	"SELECT * FROM mb_run('daily')",
	'SELECT * FROM mb_run()',
	"SELECT * FROM mb_retry('daily')",
	"CALL mb_backfill('daily', '2024-01-01', '2024-01-02')",
	"CALL mb_backfill('2024-01-01', '2024-01-02')",
	"SELECT * FROM mb_run_window('daily', '2024-01-01')",
	"SELECT mb_reset('daily')",
	"SELECT mb_alter('daily', lookback => 2)",
	"SELECT mb_register('again', 'daily', 'day', 'SELECT day, client, n, total FROM daily WHERE day >= \$1 AND day < \$2', 'day', '2024-01-01')")
{
	($ret, $out, $err) = $standby->psql('postgres', "$call;\n\\echo :LAST_ERROR_SQLSTATE", on_error_stop => 0);
	is($out, '25006', "standby: $call fails with 25006");
	like($err, qr/cannot run or change microbatch pipelines on a server in recovery.*\n.*\nHINT:  Run and change pipelines on the primary/,
		"standby: $call says why, with a hint");
}
is($standby->safe_psql('postgres', "SELECT count(*) FROM mb_plan('daily')"), '1',
	'standby: mb_plan reads the state (the lookback window)');
is($standby->safe_psql('postgres', "SELECT high_water FROM microbatch.status WHERE pipeline = 'daily'"),
	'2024-01-04 00:00:00+00', 'standby: the status view reads the state');
$standby->stop;
$node->stop;
done_testing();

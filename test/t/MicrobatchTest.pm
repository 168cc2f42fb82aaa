# Shared set-up for microbatch's TAP tests: a cluster with the extension, a
# source of generated events, and pipelines over it.
package MicrobatchTest;

use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use Test::More;
use Exporter 'import';

our @EXPORT = qw(new_node create_events register_daily rollup_matches workers_left have_pg_cron kill9);

# new_node starts a cluster set up as the tests need, with extra settings
# (conf) and options for initdb (init, such as allows_streaming => 1).
sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	$node->append_conf('postgresql.conf', qq{
max_worker_processes = 16
timezone = 'UTC'
datestyle = 'ISO, YMD'
lc_messages = 'C'
log_min_messages = warning
restart_after_crash = on
} . ($opts{conf} // ''));
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION microbatch');
	return $node;
}

# create_events fills "events" with $n events spread over $days days of 2024.
sub create_events
{
	my ($node, $n, $days) = @_;
	$node->safe_psql('postgres', qq{
CREATE TABLE events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, client int, amount numeric);
INSERT INTO events (created_at, client, amount)
SELECT '2024-01-01'::timestamptz + (i::float8 / $n) * interval '$days days', i % 10, i % 1000
  FROM generate_series(0, $n - 1) i;
CREATE INDEX ON events (created_at);
ANALYZE events;
});
}

# register_daily makes table $name and a daily rollup pipeline into it;
# $extra goes into the query's FROM list (a pg_sleep to slow windows down).
sub register_daily
{
	my ($node, $name, %opts) = @_;
	my $from = $opts{from} // '';
	my $options = $opts{options} // '';
	$node->safe_psql('postgres', qq{
CREATE TABLE $name (day timestamptz, client int, n bigint, total numeric);
SELECT mb_register('$name', '$name', 'day',
  \$\$SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
      FROM events $from WHERE created_at >= \$1 AND created_at < \$2 GROUP BY 1, 2\$\$,
  'day', '2024-01-01' $options);
});
}

# rollup_matches tells whether table $name holds exactly the rollup of
# events before $until computed directly.
sub rollup_matches
{
	my ($node, $name, $until) = @_;
	return $node->safe_psql('postgres', qq{
WITH expected AS (
  SELECT date_trunc('day', created_at) AS day, client, count(*) AS n, sum(amount) AS total
    FROM events WHERE created_at < '$until' GROUP BY 1, 2)
SELECT (SELECT count(*) FROM (TABLE $name EXCEPT ALL TABLE expected) a)
     + (SELECT count(*) FROM (TABLE expected EXCEPT ALL TABLE $name) b)
     + (SELECT count(*) FROM expected) * 0 = 0
   AND (SELECT count(*) FROM $name) > 0;
}) eq 't';
}

# have_pg_cron tells whether pg_cron is installed for the PostgreSQL under
# test (the suite runs without it: scheduling tests skip).
sub have_pg_cron
{
	my $libdir = `pg_config --pkglibdir`;
	chomp $libdir;
	return -f "$libdir/pg_cron.so";
}

# workers_left counts microbatch background workers still alive.
sub workers_left
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'microbatch worker'");
}

# kill9 kills process $pid of $node with SIGKILL, on purpose.  It says so
# first in the server's log, where test/check-logs.sh looks for it: the
# "terminated by signal 9" of that one process is then no crash.
sub kill9
{
	my ($node, $pid) = @_;
	open(my $log, '>>', $node->logfile) or die "could not open the server log: $!";
	print $log "microbatch-test: expect signal 9 for PID $pid\n";
	close($log);
	kill('KILL', $pid) or die "could not kill process $pid: $!";
}

1;

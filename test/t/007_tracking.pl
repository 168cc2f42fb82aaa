# Change tracking across pg_dump/restore and DROP EXTENSION (DESIGN §7): the
# tracked sources, their triggers, capture indexes and pending stale marks
# survive a dump and restore, and dropping the extension leaves none of them
# behind.
use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use MicrobatchTest;

my $node = new_node('tracking');
$node->safe_psql('postgres', q{
SET microbatch.progress = off;
CREATE TABLE ev (at timestamptz, v int);
INSERT INTO ev SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 143) i;
CREATE TABLE ev_hourly (hour timestamptz, n bigint);
CREATE TABLE ev_daily (day timestamptz, n bigint);
SELECT mb_register('ev_hourly', 'ev_hourly', 'hour',
  $$SELECT date_trunc('hour', at) AS hour, sum(v)::bigint AS n FROM ev WHERE at >= $1 AND at < $2 GROUP BY 1$$,
  'hour', '2024-01-01', lookback => 0, end_at => '2024-01-07', track => true);
SELECT mb_register('ev_daily', 'ev_daily', 'day',
  $$SELECT date_trunc('day', hour) AS day, sum(n)::bigint AS n FROM ev_hourly WHERE hour >= $1 AND hour < $2 GROUP BY 1$$,
  'day', '2024-01-01', lookback => 0, end_at => '2024-01-07', track => true);
CREATE TABLE pev (at timestamptz, v int) PARTITION BY RANGE (at);
CREATE TABLE pev_1 PARTITION OF pev FOR VALUES FROM ('2024-01-01') TO ('2024-01-04');
CREATE TABLE pev_2 PARTITION OF pev FOR VALUES FROM ('2024-01-04') TO ('2024-01-07') PARTITION BY RANGE (at);
CREATE TABLE pev_2a PARTITION OF pev_2 FOR VALUES FROM ('2024-01-04') TO ('2024-01-05');
CREATE TABLE pev_2b PARTITION OF pev_2 FOR VALUES FROM ('2024-01-05') TO ('2024-01-07');
INSERT INTO pev SELECT at, v FROM ev;
CREATE TABLE pev_daily (day timestamptz, n bigint);
SELECT mb_register('pev_daily', 'pev_daily', 'day',
  $$SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM pev WHERE at >= $1 AND at < $2 GROUP BY 1$$,
  'day', '2024-01-01', lookback => 0, end_at => '2024-01-07', track => true);
SELECT count(*) FROM mb_run();
INSERT INTO ev VALUES ('2024-01-03 10:15', 500);
});
my $sources_query = "SELECT p.name, s.source, s.event_time FROM microbatch.sources s "
	. "JOIN microbatch.pipelines p ON p.id = s.pipeline_id ORDER BY 1";
my $triggers_query = "SELECT tgrelid::regclass, tgname FROM pg_trigger "
	. "WHERE tgname LIKE 'microbatch%' ORDER BY 1, 2";
my $captures_query = "SELECT i.indrelid::regclass, pg_get_indexdef(i.indexrelid) FROM pg_index i "
	. "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
	. "WHERE a.amname = 'microbatch_capture' ORDER BY 1";
my $sources_before = $node->safe_psql('postgres', $sources_query);
my $triggers_before = $node->safe_psql('postgres', $triggers_query);
my $captures_before = $node->safe_psql('postgres', $captures_query);
like($captures_before, qr/^ev\|CREATE INDEX ev_microbatch_capture ON public.ev USING microbatch_capture \(at\)\nev_hourly\|/,
	'each tracked source has a capture index on its event-time column');
is($node->safe_psql('postgres', "SELECT * FROM mb_plan('ev_hourly')"),
	'2024-01-03 10:00:00+00|2024-01-03 11:00:00+00|stale', 'a late row stales its hour before the dump');

my $dump = $node->basedir . '/tracking.dump';
$node->command_ok(['pg_dump', '-Fc', '-d', $node->connstr('postgres'), '-f', $dump], 'pg_dump succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok(['pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump],
	'pg_restore succeeds');

is($node->safe_psql('restored', $sources_query), $sources_before, 'tracked sources are restored');
is($node->safe_psql('restored', $triggers_query), $triggers_before, 'their triggers are restored');
is($node->safe_psql('restored', $captures_query), $captures_before, 'and their capture indexes');
is($node->safe_psql('restored', "SELECT * FROM mb_plan('ev_hourly')"),
	'2024-01-03 10:00:00+00|2024-01-03 11:00:00+00|stale', 'the pending stale mark is restored');

# the restored triggers track: another late row, then one run fixes the chain
$node->safe_psql('restored', "INSERT INTO ev VALUES ('2024-01-05 23:59', 7)");
is($node->safe_psql('restored',
	"SET microbatch.progress = off; SELECT pipeline || ':' || windows FROM mb_run() WHERE pipeline LIKE 'ev%'"),
	"ev_hourly:2\nev_daily:2", 'one run reprocesses the two stale hours, then their two days');
is($node->safe_psql('restored', q{
SELECT count(*) FROM ev_daily d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v) AS n FROM ev GROUP BY 1) e ON e.day = d.day
 WHERE d.n IS DISTINCT FROM e.n}), '0', 'the daily table equals a recomputation from scratch');
is($node->safe_psql('restored', 'SELECT count(*) FROM microbatch.stale'), '0', 'no mark is left');

# the restored partition triggers and event triggers see partition
# maintenance: a TRUNCATE of a sub-partition, an ATTACH after end_at
$node->safe_psql('restored', q{
TRUNCATE pev_2a;
CREATE TABLE pev_3 (at timestamptz, v int);
INSERT INTO pev_3 VALUES ('2024-01-07 01:00', 3);
ALTER TABLE pev ATTACH PARTITION pev_3 FOR VALUES FROM ('2024-01-07') TO ('2024-01-08');
});
is($node->safe_psql('restored', "SELECT window_start, reason FROM mb_plan('pev_daily')"),
	"2024-01-04 00:00:00+00|stale", 'a TRUNCATE of a restored sub-partition stales its day');
is($node->safe_psql('restored',
	"SET microbatch.progress = off; SELECT windows FROM mb_run('pev_daily')"), '1', 'one run processes it');

# DROP EXTENSION removes every tracking trigger; writers go on
$node->safe_psql('restored', 'DROP EXTENSION microbatch');
is($node->safe_psql('restored', "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'microbatch%'"),
	'0', 'DROP EXTENSION leaves no tracking trigger');
is($node->safe_psql('restored', "SELECT count(*) FROM pg_class WHERE relname LIKE '%microbatch_capture%'"),
	'0', 'nor capture index');
$node->safe_psql('restored', "INSERT INTO ev VALUES ('2024-01-02 00:00', 1)");
is($node->safe_psql('restored', "SELECT count(*) FROM ev"), '147', 'the source is still writable');

# A run that moves the horizon first waits for the writers of its tracked
# sources (src/horizon.c).  Cancelled while it waits, in this session or in
# a background worker, it is recorded cancelled at once, not left running
# until another run settles it; and since those writers may still capture
# by the old horizon, it puts the horizon back: the next run waits again,
# and the late row is not lost.
$node->safe_psql('postgres', q{
CREATE TABLE hz (at timestamptz, v int);
INSERT INTO hz SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 1 FROM generate_series(0, 95) i;
CREATE TABLE hz_daily (day timestamptz, n bigint);
SET microbatch.progress = off;
SELECT mb_register('hz_daily', 'hz_daily', 'day',
  $$SELECT date_trunc('day', at) AS day, sum(v)::bigint AS n FROM hz WHERE at >= $1 AND at < $2 GROUP BY 1$$,
  'day', '2024-01-01', lookback => 0, end_at => '2024-01-05', track => true);
CALL mb_backfill('hz_daily', '2024-01-01', '2024-01-02');
});
# a writer began before the next raise: its row is past the horizon, not captured
my $writer = $node->background_psql('postgres');
$writer->query_safe("BEGIN; INSERT INTO hz VALUES ('2024-01-02 05:00', 100)");
my $last_run = "SELECT status, error, skipped FROM microbatch.runs ORDER BY run_id DESC LIMIT 1";
my $horizon = "SELECT horizon FROM microbatch.sources WHERE source = 'hz'::regclass";
my $waiting = "SELECT count(*) > 0 FROM pg_locks WHERE locktype = 'virtualxid' AND NOT granted AND pid = ";

# in this session: CALL mb_backfill, cancelled by pg_cancel_backend
my $runner = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $runner->query_safe('SELECT pg_backend_pid()');
$runner->query_until(qr/started/,
	"\\echo started\nSET microbatch.progress = off;\nCALL mb_backfill('hz_daily', '2024-01-02', '2024-01-03');\n");
$node->poll_query_until('postgres', "$waiting$pid") or die 'the backfill never waited for the writer';
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$runner->query('SELECT 1');
like($runner->{stderr}, qr/canceling statement due to user request/, 'in session: the caller sees the cancel');
$runner->quit;
is($node->safe_psql('postgres', $last_run), 'cancelled|canceling statement due to user request|1',
	'in session: the run is recorded cancelled at once, while the writer is still open');
is($node->safe_psql('postgres', $horizon), '2024-01-02 00:00:00+00', 'and the horizon is back');

# in this session again: statement_timeout
my ($ret, $out, $err) = $node->psql('postgres',
	"SET microbatch.progress = off; SET statement_timeout = '2s'; CALL mb_backfill('hz_daily', '2024-01-02', '2024-01-03')");
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout ends a backfill that waits');
is($node->safe_psql('postgres', $last_run), 'cancelled|canceling statement due to statement timeout|1',
	'and it is recorded cancelled');

# in a worker: SELECT mb_run, whose worker waits, the caller cancelled
$runner = $node->background_psql('postgres', on_error_stop => 0);
$pid = $runner->query_safe('SELECT pg_backend_pid()');
$runner->query_until(qr/started/,
	"\\echo started\nSET microbatch.progress = off;\nSELECT * FROM mb_run('hz_daily');\n");
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
	 WHERE a.backend_type = 'microbatch worker' AND l.locktype = 'virtualxid' AND NOT l.granted})
	or die 'the worker never waited for the writer';
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$runner->query('SELECT 1');
like($runner->{stderr}, qr/canceling statement due to user request/, 'in a worker: the caller sees the cancel');
$runner->quit;
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'microbatch worker'")
	or die 'the worker was left behind';
is($node->safe_psql('postgres', $last_run), 'cancelled|canceling statement due to user request|3',
	'in a worker: the run is recorded cancelled at once');
is($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.runs WHERE status = 'running'"), '0',
	'no run is left running');

# a run whose process dies while it waits (terminated) is settled by the
# next, which puts its horizon back too
$runner = $node->background_psql('postgres', on_error_stop => 0);
$pid = $runner->query_safe('SELECT pg_backend_pid()');
$runner->query_until(qr/started/,
	"\\echo started\nSET microbatch.progress = off;\nCALL mb_backfill('hz_daily', '2024-01-02', '2024-01-03');\n");
$node->poll_query_until('postgres', "$waiting$pid") or die 'the backfill never waited for the writer';
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid")
	or die 'the terminated backfill did not end';
eval { $runner->quit };

# the next run over the same window waits for the writer again, and reads its row
$runner = $node->background_psql('postgres', on_error_stop => 0);
$pid = $runner->query_safe('SELECT pg_backend_pid()');
$runner->query_until(qr/started/,
	"\\echo started\nSET microbatch.progress = off;\nCALL mb_backfill('hz_daily', '2024-01-02', '2024-01-03');\n");
$node->poll_query_until('postgres',
	"SELECT ($waiting$pid) OR (SELECT state = 'idle' AND query LIKE 'CALL%' FROM pg_stat_activity WHERE pid = $pid)")
	or die 'the next run neither waited nor finished';
is($node->safe_psql('postgres', "$waiting$pid"), 't', 'the next run waits for the writer again');
$writer->query_safe('COMMIT');
$writer->quit;
$runner->query_safe('SELECT 1');
$runner->quit;
is($node->safe_psql('postgres', $last_run), 'succeeded||0', 'that run succeeded');
is($node->safe_psql('postgres', "SELECT count(*) FROM microbatch.runs WHERE status = 'running'"), '0',
	'and settled the terminated one');
$node->safe_psql('postgres', "SET microbatch.progress = off; SELECT * FROM mb_run('hz_daily')");
is($node->safe_psql('postgres', q{
SELECT count(*) FROM hz_daily d
  FULL JOIN (SELECT date_trunc('day', at) AS day, sum(v) AS n FROM hz GROUP BY 1) e ON e.day = d.day
 WHERE d.n IS DISTINCT FROM e.n}), '0', 'the target equals a recomputation, the writer\'s row included');

$node->stop;
done_testing();

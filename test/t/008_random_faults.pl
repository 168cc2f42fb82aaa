# Randomized faults (issue 17): runs of several pipelines -- in background
# workers, in the calling session, coalesced, tracked with late rows, with
# data checks -- all owned by a role with no privileges beyond its schema,
# while the harness, at random moments, closes a run's client socket,
# terminates or cancels a run's leader or a worker, changes a target or a
# source (type change, drop, rename or add a column, drop and recreate the
# table) or restarts the server fast.  After every event: no backend crashed
# (the postmaster never reinitialized unless the test restarted it), no
# window or run is left running; after every round, once the schema is
# repaired, one clean run makes every target equal to its query computed
# from scratch over the whole range (DESIGN §4.3-4.5, §4.8, §7, §8, §9).
#
# Bounded and seeded: MICROBATCH_FAULT_SEED replays a sequence of events
# (the timing of the server still varies), MICROBATCH_FAULT_ROUNDS sets how
# many rounds run (one or two faults and a probe each).
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep time);
use MicrobatchTest;

my $seed = $ENV{MICROBATCH_FAULT_SEED} // (int(time()) ^ ($$ << 8)) % 1_000_000;
my $rounds = $ENV{MICROBATCH_FAULT_ROUNDS} // 16;
srand($seed);
diag("random faults: seed $seed, $rounds rounds (replay: MICROBATCH_FAULT_SEED=$seed)");

my $node = new_node('random_faults');
my $server_version = $node->safe_psql('postgres', 'SHOW server_version_num');
$node->safe_psql('postgres', q{
CREATE ROLE tenant LOGIN;
CREATE SCHEMA tenant AUTHORIZATION tenant;
});

# The sources, each with a copy the harness keeps in step (late rows go to
# both) to restore a dropped table or column from.
my %source = (
	events => {
		cols => [ [ id => 'bigint' ], [ at => 'timestamptz' ], [ client => 'int' ], [ amount => 'int' ] ],
		ddl => q{CREATE TABLE tenant.events (id bigint PRIMARY KEY, at timestamptz NOT NULL,
  client int NOT NULL, amount int NOT NULL);
CREATE INDEX ON tenant.events (at)},
	},
	clicks => {
		cols => [ [ id => 'bigint' ], [ at => 'timestamptz' ], [ page => 'int' ], [ ms => 'int' ] ],
		ddl => q{CREATE TABLE tenant.clicks (id bigint PRIMARY KEY, at timestamptz NOT NULL,
  page int NOT NULL, ms int NOT NULL)},
		tracked_by => 'tr',
	},
);

# The pipelines.  NAP stands for a wait read from tenant.knobs, so that the
# runs the faults hit take a second or so and the clean runs take none.
# The first column of a target is its event time; targets have their
# query's columns in its order.
my %pipe = (
	# background workers: SELECT mb_run with max_parallel 2
	wk => {
		cols => [ [ day => 'timestamptz' ], [ client => 'int' ], [ n => 'bigint' ], [ total => 'bigint' ] ],
		source => 'events',
		query => q{SELECT date_trunc('day', at) AS day, client, count(*) AS n, sum(amount) AS total
  FROM tenant.events WHERE at >= $1 AND at < $2 AND NAP GROUP BY 1, 2},
		grid => q{'day', '2024-01-01'}, begin => '2024-01-01', end => '2024-01-13', windows => [ 12, '1 day' ],
		options => q{max_parallel => 2},
		run => [ q{SELECT * FROM mb_run('wk', 2)} ],
		nap => 0.15,
	},
	# in the calling session: CALL mb_backfill with max_parallel 1, into a
	# timestamp (without time zone) column
	ins => {
		cols => [ [ hour => 'timestamp' ], [ n => 'bigint' ], [ top => 'int' ] ],
		source => 'events',
		query => q{SELECT date_trunc('hour', at)::timestamp AS hour, count(*) AS n, max(amount) AS top
  FROM tenant.events WHERE at >= $1 AND at < $2 AND NAP GROUP BY 1},
		grid => q{'6 hours', '2024-01-02'}, begin => '2024-01-02', end => '2024-01-05', windows => [ 12, '6 hours' ],
		options => q{lookback => 2},
		run => [ q{CALL mb_backfill('ins', '2024-01-02', '2024-01-05', 1)} ],
		nap => 0.1,
		backfills => 1,
	},
	# coalesced: chunks of 4 hourly windows, 2 workers
	co => {
		cols => [ [ hour => 'timestamptz' ], [ client => 'int' ], [ n => 'bigint' ] ],
		source => 'events',
		query => q{SELECT date_trunc('hour', at) AS hour, client, count(*) AS n
  FROM tenant.events WHERE at >= $1 AND at < $2 AND NAP GROUP BY 1, 2},
		grid => q{'hour', '2024-01-05'}, begin => '2024-01-05', end => '2024-01-07', windows => [ 48, '1 hour' ],
		options => q{max_parallel => 2, coalesce_windows => true},
		run => [ q{SET microbatch.coalesce_target = '4'}, q{SELECT * FROM mb_run('co', 2)} ],
		nap => 0.1,
	},
	# tracked, no lookback: late rows into processed windows reach the
	# target only through the stale marks
	tr => {
		cols => [ [ day => 'timestamptz' ], [ page => 'int' ], [ hits => 'bigint' ], [ ms => 'bigint' ] ],
		source => 'clicks',
		query => q{SELECT date_trunc('day', at) AS day, page, count(*) AS hits, sum(ms) AS ms
  FROM tenant.clicks WHERE at >= $1 AND at < $2 AND NAP GROUP BY 1, 2},
		grid => q{'day', '2024-02-01'}, begin => '2024-02-01', end => '2024-02-09', windows => [ 8, '1 day' ],
		options => q{max_parallel => 2, lookback => 0, track => true},
		run => [ q{SELECT * FROM mb_run('tr', 2)} ],
		nap => 0.15,
	},
	# data checks, into a date column, on_error continue
	ck => {
		cols => [ [ day => 'date' ], [ client => 'int' ], [ n => 'bigint' ] ],
		source => 'events',
		query => q{SELECT at::date AS day, client, count(*) AS n
  FROM tenant.events WHERE at >= $1 AND at < $2 AND NAP GROUP BY 1, 2},
		grid => q{'day', '2024-01-01'}, begin => '2024-01-01', end => '2024-01-13', windows => [ 12, '1 day' ],
		options => q{on_error => 'continue'},
		checks => [
			[ rows => 'min_rows 1' ],
			[ complete => 'not_null day, client' ],
			[ single => 'unique day, client' ],
			[ balanced => q{SELECT coalesce(sum(n), 0) = (SELECT count(*) FROM tenant.events WHERE at >= $1 AND at < $2)
  FROM tenant.ck WHERE day >= $1 AND day < $2} ],
		],
		run => [ q{SELECT * FROM mb_run('ck')} ],
		nap => 0.1,
	},
);
my @pipes = sort keys %pipe;

# --- helpers ---------------------------------------------------------------

my $round = 0;
my $event = '';

# label prefixes a test name with what is needed to find it again
sub label
{
	my ($what) = @_;
	return "[seed $seed, round $round, $event] $what";
}

# shuffled returns its arguments in a random order
sub shuffled
{
	my @a = @_;
	for (my $i = $#a; $i > 0; $i--)
	{
		my $j = int(rand($i + 1));
		@a[ $i, $j ] = @a[ $j, $i ];
	}
	return @a;
}

# pick returns a random element of its arguments
sub pick
{
	return $_[ int(rand(scalar @_)) ];
}

# tenant_connstr is the connection string of the pipelines' owner
sub tenant_connstr
{
	my ($app) = @_;
	return $node->connstr('postgres') . ' user=tenant' . ($app ? " application_name=$app" : '');
}

# tsql runs SQL as the owner of the pipelines: (return code, out, err)
sub tsql
{
	my ($sql, %opts) = @_;
	my $timed_out = 0;
	my @r = $node->psql('postgres', $sql,
		connstr => tenant_connstr(),
		on_error_stop => $opts{on_error_stop} // 1,
		timeout => 180, timed_out => \$timed_out);
	$r[0] = -1 if $timed_out;
	return @r;
}

# ssql runs SQL as the superuser: (return code, out, err)
sub ssql
{
	my ($sql) = @_;
	my $timed_out = 0;
	my @r = $node->psql('postgres', $sql, timeout => 180, timed_out => \$timed_out);
	$r[0] = -1 if $timed_out;
	return @r;
}

# tsql_ok runs SQL as the owner and fails the test if it errors
sub tsql_ok
{
	my ($sql, $what) = @_;
	my ($rc, $out, $err) = tsql($sql);
	ok($rc == 0, label($what)) or diag("SQL: $sql\nerror: $err");
	return $out;
}

# poll_for waits at most $secs seconds for $sql (as the superuser) to
# return $expect
sub poll_for
{
	my ($sql, $expect, $secs) = @_;
	my $deadline = time() + $secs;
	while (1)
	{
		my ($rc, $out) = ssql($sql);
		return 1 if $rc == 0 && $out eq $expect;
		return 0 if time() > $deadline;
		sleep 0.1;
	}
}

# wait_until_back waits for the server to accept queries again (after a
# restart, or a crash the test must then report)
sub wait_until_back
{
	my $deadline = time() + 120;
	while (time() < $deadline)
	{
		my ($rc, $out) = eval { ssql('SELECT 1') };
		return 1 if defined $rc && $rc == 0 && $out eq '1';
		sleep 0.2;
	}
	return 0;
}

# The server's identity: the postmaster's start time, which only a real
# restart changes, and the checkpointer's, which a crash (all processes
# reinitialized) changes too.
my $identity_sql = q{SELECT pg_postmaster_start_time() || ' ' ||
  (SELECT backend_start FROM pg_stat_activity WHERE backend_type = 'checkpointer')};
my $identity;
my $log_offset = 0;
my $crashes = 0;

# rebaseline records the server's identity (after the test restarted the
# server itself; what the log says about the shutdown is still checked)
sub rebaseline
{
	wait_until_back() or BAIL_OUT('the server did not come back');
	(undef, $identity) = ssql($identity_sql);
}

# no_crash checks that no backend crashed since the last check: the server
# log has no process ended by a signal, no assertion failure, no
# reinitialization, and the server is still the one the test started
sub no_crash
{
	my ($what) = @_;
	my $back = wait_until_back();
	my $log = slurp_file($node->logfile, $log_offset);
	$log_offset += length($log);
	my @bad = grep {
		/terminated by signal|was terminated by exception|TRAP:|PANIC:|server processes terminated; reinitializing/
	} split /\n/, $log;
	my (undef, $now) = ssql($identity_sql);
	my $same = $back && defined $now && $now eq $identity;
	my $ok = ok($same && !@bad, label("$what: no crash, the server was not reinitialized"));
	unless ($ok)
	{
		$crashes++;
		diag("server log:\n" . join("\n", @bad)) if @bad;
		diag("server identity was '$identity', now '" . ($now // 'unreachable') . "'") unless $same;
	}
	$identity = $now if defined $now;
	return $ok;
}

# A fast shutdown stops a run's workers with their leader: nobody is left to
# record the run, which stays running until the next run settles it as
# failed (doc/operations.md, "Cancelling"); its windows are never left
# running.  Until the clean run, such runs are not counted.
my $restarted_at;

# settled checks that every run ended and left nothing marked running
sub settled
{
	my ($what, $after_crash) = @_;
	ok(poll_for(q{SELECT count(*) FROM pg_stat_activity
  WHERE application_name LIKE 'mbf\_%' OR backend_type = 'microbatch worker'}, '0', 60),
		label("$what: every leader and worker ended")) or diag(
		(ssql(q{SELECT pid, backend_type, application_name, state, wait_event, query FROM pg_stat_activity
  WHERE application_name LIKE 'mbf\_%' OR backend_type = 'microbatch worker'}))[1]);
	return if $after_crash;
	my $running = q{SELECT (SELECT count(*) FROM microbatch.windows WHERE status = 'running')
  + (SELECT count(*) FROM microbatch.runs WHERE status = 'running'}
	  . ($restarted_at ? " AND started_at > '$restarted_at'" : '') . ')';
	ok(poll_for($running, '0', 10), label("$what: no window or run is left running")) or diag(
		(ssql(q{SELECT 'run', r.run_id, p.name, r.kind, r.status, r.error FROM microbatch.runs r
  JOIN microbatch.pipelines p ON p.id = r.pipeline_id WHERE r.status = 'running'
UNION ALL
SELECT 'window', w.run_id, p.name, w.window_start::text, w.status, w.error FROM microbatch.windows w
  JOIN microbatch.pipelines p ON p.id = w.pipeline_id WHERE w.status = 'running'}))[1]);
}

# query_of is a pipeline's query with its wait
sub query_of
{
	my ($p) = @_;
	my $q = $pipe{$p}{query};
	$q =~ s/NAP/(SELECT count(*) FROM tenant.knobs k, pg_sleep(k.nap) WHERE k.p = '$p') >= 0/;
	return $q;
}

# target_ddl creates a pipeline's target in its registered shape
sub target_ddl
{
	my ($p) = @_;
	return "CREATE TABLE tenant.$p ("
	  . join(', ', map { "$_->[0] $_->[1]" } @{ $pipe{$p}{cols} }) . ')';
}

# register_sql registers a pipeline and adds its checks
sub register_sql
{
	my ($p) = @_;
	my $d = $pipe{$p};
	my $sql = "SELECT mb_register('$p', 'tenant.$p', '$d->{cols}[0][0]', \$q\$" . query_of($p)
	  . "\$q\$, $d->{grid}, end_at => '$d->{end}', $d->{options});\n";
	$sql .= "SELECT mb_add_check('$p', '$_->[0]', \$c\$$_->[1]\$c\$);\n" for @{ $d->{checks} // [] };
	return $sql;
}

# --- set-up ----------------------------------------------------------------

# 3000 events over 12 days (every hour has some, for every check), 800
# clicks over 8 days
tsql_ok(qq{
SET microbatch.progress = off;
$source{events}{ddl};
INSERT INTO tenant.events SELECT i, '2024-01-01'::timestamptz + i * interval '345.6 seconds', i % 7, (i * 37) % 101
  FROM generate_series(0, 2999) i;
$source{clicks}{ddl};
INSERT INTO tenant.clicks SELECT i, '2024-02-01'::timestamptz + i * interval '864 seconds', i % 5, (i * 13) % 997
  FROM generate_series(0, 799) i;
CREATE TABLE tenant.events_canon AS TABLE tenant.events;
CREATE TABLE tenant.clicks_canon AS TABLE tenant.clicks;
CREATE TABLE tenant.knobs (p text PRIMARY KEY, nap float8 NOT NULL);
INSERT INTO tenant.knobs SELECT unnest(ARRAY['} . join("','", @pipes) . q{']), 0;
ANALYZE tenant.events, tenant.clicks;
} . join('', map { target_ddl($_) . ";\n" . register_sql($_) } @pipes), 'the tenant creates its sources and pipelines');
rebaseline();
$log_offset = -s $node->logfile;

# late data: rows inserted into (or moved within) processed windows of the
# tracked pipeline's source, kept in step in its copy
my $next_id = 1_000_000;
my %pending;    # table => the schema fault it has until repaired

# late_rows adds a few late rows to clicks, now and then moves or deletes one
sub late_rows
{
	return if $pending{clicks};
	my @values;
	for (1 .. 1 + int(rand(4)))
	{
		push @values, sprintf("(%d, '2024-02-%02d %02d:%02d:00+00', %d, %d)",
			$next_id++, 1 + int(rand(8)), int(rand(24)), int(rand(60)), int(rand(5)), int(rand(1000)));
	}
	my $v = join(', ', @values);
	my $sql = "BEGIN;\nINSERT INTO tenant.clicks (id, at, page, ms) VALUES $v;\n"
	  . "INSERT INTO tenant.clicks_canon (id, at, page, ms) VALUES $v;\n";
	my $id = int(rand(800));
	$sql .= pick(
		'',
		"UPDATE tenant.clicks SET at = at + interval '1 day' WHERE id = $id AND at < '2024-02-08';\n"
		  . "UPDATE tenant.clicks_canon SET at = at + interval '1 day' WHERE id = $id AND at < '2024-02-08';\n",
		"DELETE FROM tenant.clicks WHERE id = $id;\nDELETE FROM tenant.clicks_canon WHERE id = $id;\n");
	my ($rc, undef, $err) = tsql($sql . "COMMIT;\n");
	ok($rc == 0, label('late rows go into the tracked source')) or diag($err);
}

# readers lists the pipelines that read a source
sub readers
{
	my ($s) = @_;
	return grep { $pipe{$_}{source} eq $s } @pipes;
}

# target_fault makes a schema change to a pipeline's target; returns the
# fault: what it is, its SQL, the SQL that repairs it, the pipelines it hits
sub target_fault
{
	my ($p) = @_;
	my @cols = @{ $pipe{$p}{cols} };
	my ($tcol, $ttype) = @{ $cols[0] };
	my ($col, $type) = @{ pick(@cols[ 1 .. $#cols ]) };
	my $kind = pick(qw(retype_time retype_time retype_value rename drop add recreate recreate_enabled));
	my %f = (table => $p, affects => [$p]);
	if ($kind eq 'retype_time')
	{
		my $new = pick('text', 'varchar(40)');
		$f{desc} = "target $p: $tcol $ttype -> $new";
		$f{sql} = "ALTER TABLE tenant.$p ALTER COLUMN $tcol TYPE $new";
		$f{repair} = "ALTER TABLE tenant.$p ALTER COLUMN $tcol TYPE $ttype USING ${tcol}::$ttype";
	}
	elsif ($kind eq 'retype_value')
	{
		my $new = pick('text', 'numeric', 'double precision', $type eq 'int' ? 'bigint' : 'int');
		$f{desc} = "target $p: $col $type -> $new";
		$f{sql} = "ALTER TABLE tenant.$p ALTER COLUMN $col TYPE $new";
		$f{repair} = "ALTER TABLE tenant.$p ALTER COLUMN $col TYPE $type USING ${col}::$type";
	}
	elsif ($kind eq 'rename')
	{
		($col) = @{ pick(@cols) };
		$f{desc} = "target $p: rename $col";
		$f{sql} = "ALTER TABLE tenant.$p RENAME COLUMN $col TO ${col}_renamed";
		$f{repair} = "ALTER TABLE tenant.$p RENAME COLUMN ${col}_renamed TO $col";
	}
	elsif ($kind eq 'drop')
	{
		($col, $type) = @{ pick(@cols) };
		# the rows lose the column: the target is rebuilt
		$f{desc} = "target $p: drop $col";
		$f{sql} = "ALTER TABLE tenant.$p DROP COLUMN $col";
		$f{repair} = "ALTER TABLE tenant.$p ADD COLUMN $col $type;\nTRUNCATE tenant.$p;\nSELECT mb_reset('$p');";
	}
	elsif ($kind eq 'add')
	{
		my $def = pick('int', 'int NOT NULL DEFAULT 0', 'text DEFAULT now()::text');
		$f{desc} = "target $p: add column extra $def";
		$f{sql} = "ALTER TABLE tenant.$p ADD COLUMN extra $def";
		$f{repair} = "ALTER TABLE tenant.$p DROP COLUMN extra";
	}
	else
	{
		# dropped and created again (maybe with its event time as text), the
		# pipeline disabled by the drop, or enabled again by its owner
		my $ddl = target_ddl($p);
		$ddl =~ s/\($tcol $ttype/($tcol text/ if rand() < 0.3;
		$f{desc} = "target $p: drop and recreate as $ddl" . ($kind eq 'recreate_enabled' ? ', enabled' : '');
		$f{sql} = "DROP TABLE tenant.$p;\n$ddl;\n"
		  . ($kind eq 'recreate_enabled' ? "SELECT mb_alter('$p', enabled => true);\n" : '');
		$f{repair} = "SELECT mb_drop('$p');\nDROP TABLE tenant.$p;\n" . target_ddl($p) . ";\n" . register_sql($p);
	}
	return \%f;
}

# source_fault makes a schema change to a source
sub source_fault
{
	my ($s) = @_;
	my @cols = @{ $source{$s}{cols} };
	my ($col, $type) = @{ pick(@cols[ 1 .. $#cols ]) };
	my $kind = pick(qw(retype retype rename add drop recreate recreate_now));
	my %f = (table => $s, affects => [ readers($s) ]);
	my $cols = join(', ', map { $_->[0] } @cols);
	my $refill = "INSERT INTO tenant.$s ($cols) SELECT $cols FROM tenant.${s}_canon;\nANALYZE tenant.$s;\n";
	# the stale marks of a pipeline go with the tracking of its source
	# (track.c): a dropped source's changes reach its target by a backfill
	my $p = $source{$s}{tracked_by};
	my $backfill = $p ? "CALL mb_backfill('$p', '$pipe{$p}{begin}', '$pipe{$p}{end}', 1);\n" : '';
	if ($kind eq 'retype')
	{
		my $new = $type eq 'int' ? pick('text', 'bigint', 'numeric') : pick('text', 'timestamp');
		$f{desc} = "source $s: $col $type -> $new";
		$f{sql} = "ALTER TABLE tenant.$s ALTER COLUMN $col TYPE $new";
		$f{repair} = "ALTER TABLE tenant.$s ALTER COLUMN $col TYPE $type USING ${col}::$type";
	}
	elsif ($kind eq 'rename')
	{
		$f{desc} = "source $s: rename $col";
		$f{sql} = "ALTER TABLE tenant.$s RENAME COLUMN $col TO ${col}_renamed";
		$f{repair} = "ALTER TABLE tenant.$s RENAME COLUMN ${col}_renamed TO $col";
	}
	elsif ($kind eq 'add')
	{
		$f{desc} = "source $s: add column note";
		$f{sql} = "ALTER TABLE tenant.$s ADD COLUMN note text DEFAULT 'late'";
		$f{repair} = "ALTER TABLE tenant.$s DROP COLUMN note";
	}
	elsif ($kind eq 'drop')
	{
		$f{desc} = "source $s: drop $col";
		$f{sql} = "ALTER TABLE tenant.$s DROP COLUMN $col";
		$f{repair} = "ALTER TABLE tenant.$s ADD COLUMN $col $type;\n"
		  . "UPDATE tenant.$s t SET $col = c.$col FROM tenant.${s}_canon c WHERE c.id = t.id;\n"
		  . "ALTER TABLE tenant.$s ALTER COLUMN $col SET NOT NULL;\n"
		  . ($col eq 'at' ? "CREATE INDEX ON tenant.$s (at);\n" : '');
	}
	elsif ($kind eq 'recreate')
	{
		$f{desc} = "source $s: drop (created again at repair)";
		$f{sql} = "DROP TABLE tenant.$s";
		$f{repair} = "$source{$s}{ddl};\n$refill";
		$f{after} = $backfill;
	}
	else
	{
		# the same rows in a new table: its tracking went with the old one
		$f{desc} = "source $s: drop and recreate";
		$f{sql} = "DROP TABLE tenant.$s;\n$source{$s}{ddl};\n"
		  . "INSERT INTO tenant.$s ($cols) SELECT $cols FROM tenant.${s}_canon;\nANALYZE tenant.$s;\n";
		$f{repair} = '';
		$f{after} = $backfill;
	}
	return \%f;
}

# schema_fault applies a random schema change to a table without one, as
# the owner; a change the server refuses (a lock not granted in time, a
# dependency) is no fault and is not repaired
sub schema_fault
{
	my ($when, $table) = @_;
	my @free = grep { !$pending{$_} } ($table // ());
	@free = grep { !$pending{$_} } (@pipes, keys %source) unless @free;
	return undef unless @free;
	my $t = pick(sort @free);
	my $f = $source{$t} ? source_fault($t) : target_fault($t);
	$event = "schema fault ($when): $f->{desc}";
	note($event);
	my ($rc, undef, $err) = tsql("SET lock_timeout = '3s';\n$f->{sql};\n");
	if ($rc != 0)
	{
		note("  refused: $err");
		return undef;
	}
	$pending{$t} = $f;
	return $f;
}

# start_run starts a pipeline's run in a psql of its own, as the owner
sub start_run
{
	my ($p) = @_;
	my ($out, $err) = ('', '');
	my $connstr = tenant_connstr("mbf_$p");
	# (client_connection_check_interval came with 14)
	$connstr .= " options='-c client_connection_check_interval=100ms'"
	  if $server_version >= 140000 && rand() < 0.5;
	my @cmd = ('psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', $connstr,
		map { ('-c', $_) } @{ $pipe{$p}{run} });
	my $h = IPC::Run::start(\@cmd, '<', \'', '>', \$out, '2>', \$err);
	return { p => $p, h => $h, out => \$out, err => \$err };
}

# leader_sql finds the backend leading a pipeline's run
sub leader_sql
{
	my ($p) = @_;
	return "SELECT pid FROM pg_stat_activity WHERE application_name = 'mbf_$p' AND backend_type = 'client backend'";
}

# finish_runs waits (bounded) for the runs' psql to end and notes how
# each ended; an error caused by a fault is expected, not a failure
sub finish_runs
{
	my ($runs) = @_;
	my $deadline = time() + 90;
	while (grep { $_->{h}->pumpable } @$runs)
	{
		$_->{h}->pump_nb for grep { $_->{h}->pumpable } @$runs;
		last if time() > $deadline;
		sleep 0.05;
	}
	for my $r (@$runs)
	{
		my $hung = $r->{h}->pumpable;
		$r->{h}->kill_kill if $hung;
		eval { $r->{h}->finish };
		ok(!$hung, label("the run of $r->{p} ended")) if $hung;
		my ($first) = grep { /ERROR|FATAL|server closed|terminat|lost/ } split /\n/, ${ $r->{err} };
		note("  run of $r->{p}: " . ($r->{killed} ? 'client killed' : $first // 'ok'));
	}
}

# fault_in_runs injects one fault while runs are going on
sub fault_in_runs
{
	my ($runs) = @_;
	my $r = pick(@$runs);
	my $p = $r->{p};
	my $kind = pick(qw(close_client close_client terminate_leader terminate_leader cancel_leader
	  terminate_worker cancel_worker schema schema restart none));
	$event = "$kind" . ($kind =~ /client|leader/ ? " of $p" : '');
	note($event);
	if ($kind eq 'close_client')
	{
		$r->{h}->signal('KILL');
		$r->{killed} = 1;
	}
	elsif ($kind =~ /^(terminate|cancel)_(leader|worker)$/)
	{
		my $fn = $1 eq 'terminate' ? 'pg_terminate_backend' : 'pg_cancel_backend';
		my $sql = $2 eq 'leader' ? leader_sql($p)
		  : "SELECT pid FROM pg_stat_activity WHERE backend_type = 'microbatch worker' ORDER BY pid";
		my (undef, $pids) = ssql($sql);
		my @pids = split /\n/, $pids;
		if (@pids)
		{
			my $pid = pick(@pids);
			$event .= " (pid $pid)";
			ssql("SELECT $fn($pid)");
		}
	}
	elsif ($kind eq 'schema')
	{
		# a table one of the runs reads or writes
		schema_fault('during runs', pick(map { ($_->{p}, $pipe{ $_->{p} }{source}) } @$runs));
	}
	elsif ($kind eq 'restart')
	{
		$node->stop('fast');
		$node->start;
		return 'restart';
	}
	return $kind;
}

# probe runs an affected pipeline while its schema is still broken, by a
# random entry point: the run may fail, nothing may crash
sub probe
{
	my ($p) = @_;
	my $d = $pipe{$p};
	my ($n, $size) = @{ $d->{windows} };
	my $window = "'$d->{begin}'::timestamptz + " . int(rand($n)) . " * interval '$size'";
	my $sql = pick(
		"SELECT * FROM mb_run('$p')",
		"SELECT * FROM mb_run('$p', 2)",
		"SELECT * FROM mb_retry('$p')",
		"CALL mb_backfill('$p', '$d->{begin}', '$d->{end}', 1)",
		"CALL mb_backfill('$p', '$d->{begin}', '$d->{end}', 2)",
		"SELECT * FROM mb_run_window('$p', $window)",
		"BEGIN; SELECT * FROM mb_run_window('$p', $window); ROLLBACK;",
		"SELECT count(*) FROM mb_plan('$p')");
	$event = "probe: $sql";
	note($event);
	my ($rc, undef, $err) = tsql("SET microbatch.progress = off;\n$sql;\n");
	my ($first) = grep { /ERROR|FATAL|server closed/ } split /\n/, $err;
	note('  ' . ($first // 'ok'));
}

# repair puts every table back in its registered shape
sub repair
{
	my @after;
	# sources first: a target's pipeline may be registered again, which
	# validates its query against them
	for my $t ((grep { $source{$_} } sort keys %pending), (grep { !$source{$_} } sort keys %pending))
	{
		my $f = delete $pending{$t};
		$event = "repair of $f->{desc}";
		tsql_ok("SET microbatch.progress = off;\n$f->{repair};\n", 'the owner repairs the schema')
		  if $f->{repair};
		push @after, $f->{after} if $f->{after};
	}
	# a tracked source that lost its tracking is tracked again
	for my $s (grep { $source{$_}{tracked_by} } sort keys %source)
	{
		my $p = $source{$s}{tracked_by};
		tsql_ok(qq{SELECT mb_track('$p', 'tenant.$s', 'at') WHERE NOT EXISTS (
  SELECT FROM microbatch.sources s JOIN microbatch.pipelines p ON p.id = s.pipeline_id
   WHERE p.name = '$p' AND s.source = 'tenant.$s'::regclass)}, "$s is tracked");
	}
	tsql_ok("SET microbatch.progress = off;\nUPDATE tenant.knobs SET nap = 0;\n$_", 'the owner backfills') for @after;
}

# verify runs every pipeline once, cleanly, and compares each target with
# its query computed from scratch over the whole range
sub verify
{
	$event = 'clean run';
	my ($rc, $out, $err) = tsql(q{SET microbatch.progress = off;
UPDATE tenant.knobs SET nap = 0;
SELECT pipeline, windows, failed FROM mb_run() ORDER BY 1;});
	ok($rc == 0, label('a clean run of every pipeline succeeds')) or diag($err);
	undef $restarted_at;
	settled('clean run', !no_crash('clean run'));
	for my $p (@pipes)
	{
		my $d = $pipe{$p};
		my @cols = @{ $d->{cols} };
		my $names = join(', ', map { $_->[0] } @cols);
		my $typed = join(', ', map { "$_->[0]::$_->[1]" } @cols);
		my $q = query_of($p);
		$q =~ s/\$1/'$d->{begin}'::timestamptz/g;
		$q =~ s/\$2/'$d->{end}'::timestamptz/g;
		my ($crc, $cmp, $cerr) = tsql(qq{
WITH expected AS (SELECT $typed FROM ($q) q), actual AS (SELECT $names FROM tenant.$p)
SELECT (SELECT count(*) FROM (TABLE expected EXCEPT ALL TABLE actual) a) || '|'
    || (SELECT count(*) FROM (TABLE actual EXCEPT ALL TABLE expected) b) || '|'
    || (SELECT (count(*) > 0)::int FROM actual) || '|'
    || (SELECT count(*) FROM microbatch.windows w JOIN microbatch.pipelines p ON p.id = w.pipeline_id
         WHERE p.name = '$p' AND w.status <> 'succeeded')});
		is($cmp, '0|0|1|0', label("$p: the target equals its query over the whole range, every window succeeded"))
		  or diag("missing|extra|non-empty|unsucceeded windows; $cerr\n" . (tsql(qq{
WITH expected AS (SELECT $typed FROM ($q) q), actual AS (SELECT $names FROM tenant.$p)
(SELECT 'missing', * FROM (TABLE expected EXCEPT ALL TABLE actual) a LIMIT 5)
UNION ALL (SELECT 'extra', * FROM (TABLE actual EXCEPT ALL TABLE expected) b LIMIT 5)}))[1]);
	}
}

# --- the rounds ------------------------------------------------------------

for my $r (1 .. $rounds)
{
	$round = $r;
	$event = 'start';
	note("round $round");
	my $ok = eval {
		# maybe a schema fault before the runs; the runs include a pipeline it hits
		my $before = rand() < 0.35 ? schema_fault('before runs') : undef;
		my @run = $before ? (pick(@{ $before->{affects} })) : ();
		for my $p (shuffled(@pipes))
		{
			push @run, $p if @run < 1 + int(rand(3)) && !grep { $_ eq $p } @run;
		}
		# each run has windows to process: its state forgotten, or late rows
		my $prep = "SET microbatch.progress = off;\n"
		  . join('', map { "UPDATE tenant.knobs SET nap = $pipe{$_}{nap} WHERE p = '$_';\n" } @pipes);
		$prep .= join('', map { "SELECT mb_reset('$_');\n" }
			  grep { !$pipe{$_}{backfills} && ($_ ne 'tr' || rand() < 0.5) } @run);
		tsql($prep, on_error_stop => 0);
		late_rows() if rand() < 0.6;

		$event = 'runs of ' . join(', ', @run);
		note($event);
		my @runs = map { start_run($_) } @run;
		# the fault comes at a random moment once the first run has begun
		my $deadline = time() + 5;
		while (time() < $deadline && $runs[0]{h}->pumpable)
		{
			$runs[0]{h}->pump_nb;
			my (undef, $leader) = ssql(leader_sql($run[0]));
			last if $leader;
			sleep 0.05;
		}
		sleep rand(1.0);
		late_rows() if rand() < 0.3 && grep { $_ eq 'tr' } @run;
		my $kind = fault_in_runs(\@runs);
		finish_runs(\@runs);
		if ($kind eq 'restart')
		{
			rebaseline();
			(undef, $restarted_at) = ssql('SELECT pg_postmaster_start_time()');
		}
		# what a crash left running is settled by the next run (DESIGN §4.4):
		# after a crash, only the crash is reported
		settled('after the fault', !no_crash('after the fault'));

		# the pipelines a broken schema hits, run by some entry point
		my @hit = map { @{ $_->{affects} } } values %pending;
		if (@hit)
		{
			probe(pick(sort @hit));
			settled('after the probe', !no_crash('after the probe'));
		}
		repair();
		verify();
		1;
	};
	unless ($ok)
	{
		fail(label("the round ran to its end: $@"));
		wait_until_back();
		repair();
	}
}

ok($crashes == 0, "no crash in $rounds rounds (seed $seed)");
$node->stop;
done_testing();

# The documentation runs as written.  Every ```sql block of README.md and
# doc/*.md runs, in order within its file, and must succeed; where a
# ```text block follows it (nothing but blank lines between), the block must
# print exactly that, as psql shows it.  A new file in doc/ is read too.
#
# What a file says about its blocks (HTML comments are not shown on GitHub):
#   <!-- doc-test setup: NAME -->  the blocks after it run in a new database
#       prepared by the fixture NAME:
#         none       nothing, not even the extension
#         extension  CREATE EXTENSION microbatch (what a file starts with)
#         tutorial   the database the README's Tutorial leaves: its blocks run
#   <!-- doc-test sql
#   SQL -->  runs there, unshown: what the text takes as given (a table of
#       the reader's own, say); it must succeed
#   -- not run: WHY        (first lines of a block) the block is skipped,
#                          and WHY is printed
#   -- expect error: CODE  the block must fail, every error with one of the
#                          SQLSTATEs listed (comma-separated); psql goes on
#                          after an error, as it does for a reader
# A block that calls mb_schedule, mb_unschedule or cron.* runs only when
# pg_cron 1.4 or later is installed (the cluster preloads it, its jobs in
# database "postgres", which the docs' databases reach through
# cron.schedule_in_database, and it runs no job: one would race the
# examples); otherwise the block is skipped with the reason.  A ```sql block that only declares
# signatures (the reference's "mb_run(name text, ...) RETURNS ...") is not
# SQL to run: test/t/012_reference.pl compares those with the catalog.
#
# Compared output is normalised on both sides: table cells are trimmed (the
# alignment of psql's columns does not count), the cells of columns that
# vary from run to run (run_id, pid, elapsed, started_at, finished_at,
# marked_at, created_at, last_run_at, jobid) become "*", and so do, anywhere,
# durations ("in 12 ms", "in 1.2 s"), timestamps and intervals with
# fractions of a second (now() and what is computed from it: the grid's
# bounds have none) and process ids ("PID 1234", "process 1234").
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MicrobatchTest;
use MicrobatchDocs;

my $root = "$FindBin::RealBin/../..";
my @files = ('README.md', map { s{^\Q$root\E/}{}r } sort glob("$root/doc/*.md"));
my $cron = have_pg_cron();

my $node = new_node('docs', conf => $cron ? qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.max_running_jobs = 0
} : '');
my $no_cron_reason = 'needs pg_cron, which is not installed';
if ($cron)
{
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
	my $version = $node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'");
	my ($major, $minor) = $version =~ /^(\d+)\.(\d+)/;
	if ($major == 1 && $minor < 4)
	{
		$cron = 0;
		$no_cron_reason = "needs pg_cron 1.4 or later to schedule from another database, not $version";
	}
}

# columns whose values differ from run to run
my $volatile_columns = qr/^(run_id|pid|elapsed|started_at|finished_at|marked_at|created_at|last_run_at|jobid)$/;

# normalize makes psql's output comparable (see the top of this file)
sub normalize
{
	my ($text) = @_;
	my (@out, @columns);

	foreach my $line (split /\n/, $text)
	{
		$line =~ s/\bin [0-9.,]+ (ms|s)\b/in */g;
		$line =~ s/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+(?:[+-]\d\d(?::\d\d)?)?/*/g;
		$line =~ s/(?:-?\d+ (?:years?|mons?|days?) )*-?\d\d:\d\d:\d\d\.\d+/*/g;
		$line =~ s/\b(PID|pid|process) \d+/$1 */g;
		$line =~ s/\s+$//;

		# a table: its header, the line of dashes, rows up to "(N rows)"
		if ($line =~ /^-+(\+-+)*$/ && @out)
		{
			@columns = map { s/^\s+|\s+$//gr } split /\|/, $out[-1];
			$out[-1] = join('|', @columns);
			push @out, '-';
			next;
		}
		if (@columns && ($line =~ /^\(\d+ rows?\)$/ || $line eq ''))
		{
			@columns = ();
		}
		elsif (@columns)
		{
			my @cells = map { s/^\s+|\s+$//gr } split /\|/, $line, -1;
			for my $i (0 .. $#cells)
			{
				$cells[$i] = '*' if defined $columns[$i] && $columns[$i] =~ $volatile_columns;
			}
			$line = join('|', @cells);
		}
		push @out, $line;
	}
	pop @out while @out && $out[-1] eq '';
	return join("\n", @out);
}

# run_sql runs $sql in database $db as a reader's psql would, and returns
# whether psql succeeded, what it printed (notices and errors in line with
# results, without the SQLSTATEs), and the SQLSTATE of every error.
sub run_sql
{
	my ($db, $sql, $stop) = @_;
	my ($output, @errors) = ('');
	my $ok = IPC::Run::run(
		[
			'psql', '-X', '-q', '-v', 'VERBOSITY=verbose',
			($stop ? ('-v', 'ON_ERROR_STOP=1') : ()),
			'-d', $node->connstr($db)
		],
		'<', \$sql, '>&', \$output);
	$output =~ s/^psql:<stdin>:\d+: //mg;
	push @errors, $1 while $output =~ /^(?:ERROR|FATAL|PANIC):  ([0-9A-Z]{5}): /mg;
	$output =~ s/^(\w+):  [0-9A-Z]{5}: /$1:  /mg;
	$output =~ s/^(LOCATION|SCHEMA NAME|TABLE NAME|COLUMN NAME|DATATYPE NAME|CONSTRAINT NAME):  .*\n//mg;
	return ($ok && !@errors, $output, @errors);
}

# the fixtures a file may name in <!-- doc-test setup: NAME -->
my %fixtures = (
	none => sub { },
	extension => sub {
		my ($db) = @_;
		$node->safe_psql($db, 'CREATE EXTENSION microbatch');
	},
	tutorial => sub {
		my ($db) = @_;
		foreach my $item (section_items("$root/README.md", 'Tutorial'))
		{
			next unless $item->{kind} eq 'block' && $item->{lang} eq 'sql';
			my %markers = block_markers($item->{text});
			next if $markers{not_run} || $markers{expect_error};
			my ($ok, $output) = run_sql($db, $item->{text}, 1);
			die "fixture tutorial: README.md:$item->{line} fails:\n$output" unless $ok;
		}
	});

my ($databases, $blocks, $ran, $not_run, $no_cron) = (0, 0, 0, 0, 0);
foreach my $file (@files)
{
	my $db;
	my $setup = sub {
		my ($line, @names) = @_;
		$db = 'doc_' . ++$databases;
		$node->safe_psql('postgres', "CREATE DATABASE $db");
		foreach my $name (@names)
		{
			die "$file:$line: no fixture \"$name\" (there are: " . join(', ', sort keys %fixtures) . ")\n"
			  unless $fixtures{$name};
			$fixtures{$name}->($db);
		}
	};

	foreach my $item (read_doc("$root/$file"))
	{
		my $where = "$file:$item->{line}";

		if ($item->{kind} eq 'setup')
		{
			$setup->($item->{line}, @{ $item->{names} });
			next;
		}
		$setup->(0, 'extension') unless defined $db;
		if ($item->{kind} eq 'sql')
		{
			my ($ok, $output) = run_sql($db, $item->{text}, 1);
			ok($ok, "$where: the hidden set-up runs") or diag($output);
			next;
		}
		next unless $item->{lang} eq 'sql';
		next if is_signature_block($item->{text});

		$blocks++;
		my %markers = block_markers($item->{text});
		my $skip;
		if (defined $markers{not_run})
		{
			$skip = "not run: $markers{not_run}";
			$not_run++;
		}
		elsif (!$cron && $item->{text} =~ /\b(mb_schedule|mb_unschedule)\b|(?<![\w.])cron\./)
		{
			$skip = $no_cron_reason;
			$no_cron++;
		}
		if ($skip)
		{
		  SKIP: { skip("$where: $skip", 1); }
			next;
		}

		$ran++;
		my ($ok, $output, @errors) = run_sql($db, $item->{text}, !$markers{expect_error});
		if ($markers{expect_error})
		{
			my %expected = map { $_ => 1 } @{ $markers{expect_error} };
			ok(@errors && !grep({ !$expected{$_} } @errors),
				"$where fails with SQLSTATE " . join(' or ', @{ $markers{expect_error} }))
			  or diag("errors: @errors\n$item->{text}$output");
		}
		else
		{
			ok($ok, "$where runs") or diag("$item->{text}$output");
		}
		if ($item->{output})
		{
			is(normalize($output), normalize($item->{output}{text}),
				"$where prints what $file:$item->{output}{line} shows");
		}
	}
}

ok($ran >= 15, "the docs have their examples ($ran of $blocks blocks ran)");
diag("$ran of $blocks SQL blocks ran; $not_run marked not run"
	  . ($no_cron ? "; $no_cron skipped: $no_cron_reason" : ''))
  if $not_run || $no_cron;

$node->stop;
done_testing();

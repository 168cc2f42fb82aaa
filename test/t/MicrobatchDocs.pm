# Reading microbatch's documentation as the tests of the documentation need
# it: the blocks of a Markdown file with what the file says about running
# them, and function signatures in a form that the catalog's can be compared
# with.
#
# A file is read into items, in order:
#   { kind => 'block', lang, text, line, output }   a fenced code block; a
#       ```text block that follows a ```sql block with nothing but blank lines
#       between is that block's output (the block's "output" item)
#   { kind => 'setup', names, line }   <!-- doc-test setup: NAME[, NAME] -->
#   { kind => 'sql', text, line }      <!-- doc-test sql ... -->
# See test/t/011_docs.pl for what they mean.
package MicrobatchDocs;

use strict;
use warnings;
use PostgreSQL::Test::Utils;
use Exporter 'import';

our @EXPORT = qw(read_doc section_items block_markers is_signature_block
  signatures_of_block parse_signature parse_arguments signature_text
  normalize_type normalize_default split_top);

# read_doc returns the items of Markdown file $path (see above).
sub read_doc
{
	my ($path) = @_;
	return parse_doc(slurp_file($path), $path, 0);
}

# parse_doc returns the items of Markdown text $text, read from $path
# where it starts after line $offset.
sub parse_doc
{
	my ($text, $path, $offset) = @_;
	my @lines = split /\n/, $text;
	my @items;
	my $prose = 1;    # something but blank lines since the last block

	for (my $i = 0; $i < @lines; $i++)
	{
		my $line = $lines[$i];

		if ($line =~ /^```\s*(\S*)/)
		{
			my ($lang, $start, @body) = ($1, $offset + $i + 1);

			for ($i++; $i < @lines && $lines[$i] !~ /^```\s*$/; $i++)
			{
				push @body, $lines[$i];
			}
			die "$path:$start: a code block is not closed\n" if $i >= @lines;
			my $item = {
				kind => 'block',
				lang => $lang,
				text => join('', map { "$_\n" } @body),
				line => $start,
				header => $line,
			};
			if ($lang eq 'text' && !$prose && @items
				&& $items[-1]{kind} eq 'block' && $items[-1]{lang} eq 'sql')
			{
				$items[-1]{output} = $item;
			}
			else
			{
				push @items, $item;
			}
			$prose = 0;
			next;
		}
		if ($line =~ /^<!--\s*doc-test\b(.*)$/)
		{
			my ($text, $start) = ($1, $offset + $i + 1);

			while ($text !~ /-->/)
			{
				$i++;
				die "$path:$start: a doc-test comment is not closed\n" if $i >= @lines;
				$text .= "\n$lines[$i]";
			}
			$text =~ s/\s*-->.*//s;
			if ($text =~ /^\s+setup:\s*(.*?)\s*$/s)
			{
				push @items, { kind => 'setup', names => [ split /\s*,\s*/, $1 ], line => $start };
			}
			elsif ($text =~ /^\s+sql\b:?[^\n]*\n(.*)$/s)
			{
				push @items, { kind => 'sql', text => "$1\n", line => $start };
			}
			else
			{
				die "$path:$start: a doc-test comment is \"setup: NAME\" or \"sql\" and the SQL on the lines after it, not \"$text\"\n";
			}
			$prose = 1;
			next;
		}
		$prose = 1 if $line =~ /\S/;
	}
	return @items;
}

# section_items returns the items of $path under the heading "## $title",
# up to the next heading of that level.
sub section_items
{
	my ($path, $title) = @_;
	my $text = slurp_file($path);
	my ($before, $section) = $text =~ /\A(.*?^## \Q$title\E\n)(.*?)(?=^## |\z)/ms
	  or die "$path has no section \"$title\"\n";
	return parse_doc($section, $path, ($before =~ tr/\n//));
}

# block_markers reads the comments on the first lines of a block:
# "-- not run: why" and "-- expect error: SQLSTATE[, SQLSTATE]".
sub block_markers
{
	my ($text) = @_;
	my %markers;

	foreach my $line (split /\n/, $text)
	{
		last unless $line =~ /^\s*--/;
		$markers{not_run} = $1 if $line =~ /^\s*--\s*not run:\s*(.*?)\s*$/;
		$markers{expect_error} = [ split /\s*,\s*/, $1 ]
		  if $line =~ /^\s*--\s*expect error:\s*(.*?)\s*$/;
	}
	return %markers;
}

# split_top splits $text at the commas outside parentheses and quotes.
sub split_top
{
	my ($text) = @_;
	my ($depth, $quote, $part, @parts) = (0, 0, '');

	foreach my $c (split //, $text)
	{
		if ($quote) { $quote = 0 if $c eq "'"; }
		elsif ($c eq "'") { $quote = 1; }
		elsif ($c eq '(') { $depth++; }
		elsif ($c eq ')') { $depth--; }
		elsif ($c eq ',' && $depth == 0)
		{
			push @parts, $part;
			$part = '';
			next;
		}
		$part .= $c;
	}
	push @parts, $part if $part =~ /\S/ || @parts;
	s/^\s+|\s+$//g foreach @parts;
	return @parts;
}

# the spellings of a type that name the same type, as the docs may write it
my %type_alias = (
	'timestamp with time zone' => 'timestamptz',
	'timestamp without time zone' => 'timestamp',
	'integer' => 'int',
	'int4' => 'int',
	'int8' => 'bigint',
	'int2' => 'smallint',
	'boolean' => 'bool',
	'character varying' => 'varchar',
	'double precision' => 'float8',
	'real' => 'float4');

# normalize_type gives one spelling of type $type.
sub normalize_type
{
	my ($type) = @_;
	my $array = '';

	$type = lc $type;
	$type =~ s/\s+/ /g;
	$type =~ s/^\s+|\s+$//g;
	$array = $1 if $type =~ s/((?:\[\])+)$//;
	return ($type_alias{$type} // $type) . $array;
}

# normalize_default gives an argument's default without the casts that
# pg_get_function_arguments adds ('UTC'::text is 'UTC'), keywords in lower
# case.
sub normalize_default
{
	my ($default) = @_;

	# quoted parts as they are, the rest without casts, in lower case
	$default =~ s/('(?:[^']|'')*')|([^']+)/
	  defined $1 ? $1 : lc($2 =~ s{::\s*[a-z_][a-z_0-9 ]*(?:\[\])*}{}gir)/gie;
	$default =~ s/\s+/ /g;
	$default =~ s/^\s+|\s+$//g;
	return $default;
}

# parse_argument reads "[mode] [name] type [DEFAULT value]"; with $named
# the name is required.  Returns undef for anything else.
sub parse_argument
{
	my ($text, $named) = @_;
	my ($mode, $name, $type, $default) = ('', '');

	$text =~ s/^\s+|\s+$//g;
	($text, $default) = ($1, $2) if $text =~ /^(.*?)\s+(?:DEFAULT|=)\s+(.*)$/is;
	if ($text =~ s/^(IN|OUT|INOUT|VARIADIC)\s+//i)
	{
		$mode = uc $1;
		$mode = '' if $mode eq 'IN';
	}
	if ($text =~ /^([a-z_][a-z_0-9]*)\s+([a-z_].*)$/is) { ($name, $type) = ($1, $2); }
	elsif (!$named && $text =~ /^[a-z_][a-z_0-9 ]*(\[\])*$/i) { $type = $text; }
	else { return undef; }
	return undef unless $type =~ /^[a-z_][a-z_0-9 ]*(\(\d+(,\s*\d+)?\))?(\[\])*$/i;
	return {
		mode => $mode,
		name => $name,
		type => normalize_type($type),
		default => defined $default ? normalize_default($default) : undef,
	};
}

# argument_text prints an argument read by parse_argument.
sub argument_text
{
	my ($arg) = @_;
	return join(' ', grep { $_ ne '' } $arg->{mode}, $arg->{name}, $arg->{type})
	  . (defined $arg->{default} ? " DEFAULT $arg->{default}" : '');
}

# parse_arguments reads an argument list; undef unless every argument reads.
sub parse_arguments
{
	my ($text, $named) = @_;
	my @args;

	foreach my $part (split_top($text))
	{
		my $arg = parse_argument($part, $named);
		return undef unless $arg;
		push @args, $arg;
	}
	return \@args;
}

# normalize_result gives one spelling of a function's result: a type,
# SETOF a type, or TABLE(column type, ...).
sub normalize_result
{
	my ($text) = @_;

	$text =~ s/^\s+|\s+$//g;
	if ($text =~ /^TABLE\s*\((.*)\)$/is)
	{
		my $columns = parse_arguments($1, 1);
		return undef unless $columns;
		return 'TABLE(' . join(', ', map { argument_text($_) } @$columns) . ')';
	}
	return 'SETOF ' . normalize_type($1) if $text =~ /^SETOF\s+(.*)$/is;
	return normalize_type($text);
}

# parse_signature reads one signature as the reference shows it:
#   [CALL] [schema.]name(argument type [DEFAULT value], ...) [RETURNS result]
# Returns { name, procedure, args, returns } or undef when $text is not one
# (a call with values instead of declarations, say).
sub parse_signature
{
	my ($text) = @_;

	$text =~ s/\s+/ /g;
	$text =~ s/^\s+|\s+$//g;
	return undef unless $text =~ /^(CALL\s+)?([a-z_][a-z_0-9]*(?:\.[a-z_][a-z_0-9]*)?)\s*\((.*)$/is;
	my ($call, $name, $rest) = ($1, lc $2, $3);
	my ($depth, $quote, $i) = (1, 0, 0);
	for (; $i < length $rest && $depth > 0; $i++)
	{
		my $c = substr($rest, $i, 1);
		if ($quote) { $quote = 0 if $c eq "'"; }
		elsif ($c eq "'") { $quote = 1; }
		elsif ($c eq '(') { $depth++; }
		elsif ($c eq ')') { $depth--; }
	}
	return undef if $depth > 0;
	my $args = parse_arguments(substr($rest, 0, $i - 1), 1);
	my $after = substr($rest, $i);
	my $returns;
	return undef unless $args;
	$after =~ s/^\s+|\s+$//g;
	if ($after =~ /^RETURNS\s+(.*)$/is)
	{
		$returns = normalize_result($1);
		return undef unless defined $returns;
	}
	elsif ($after ne '')
	{
		return undef;
	}
	return { name => $name, procedure => $call ? 1 : 0, args => $args, returns => $returns };
}

# signature_text prints a signature read by parse_signature, or made from
# the catalog, in the one spelling both are compared in.
sub signature_text
{
	my ($sig) = @_;
	return ($sig->{procedure} ? 'CALL ' : '')
	  . "$sig->{name}(" . join(', ', map { argument_text($_) } @{ $sig->{args} }) . ')'
	  . (defined $sig->{returns} ? " RETURNS $sig->{returns}" : '');
}

# signatures_of_block splits a code block into signatures; undef unless
# the block holds nothing else (it is then a signature block, not SQL to run).
sub signatures_of_block
{
	my ($text) = @_;
	my (@parts, @sigs);

	foreach my $line (split /\n/, $text)
	{
		next unless $line =~ /\S/;
		if ($line =~ /^(CALL\s+)?[a-z_][a-z_0-9.]*\s*\(/i || !@parts) { push @parts, $line; }
		else { $parts[-1] .= " $line"; }
	}
	return undef unless @parts;
	foreach my $part (@parts)
	{
		my $sig = parse_signature($part);
		return undef unless $sig;
		push @sigs, $sig;
	}
	return \@sigs;
}

# is_signature_block tells whether a ```sql block declares signatures.
sub is_signature_block
{
	my ($text) = @_;
	return defined signatures_of_block($text);
}

1;

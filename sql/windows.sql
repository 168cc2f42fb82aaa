-- The window grid: calendar- and DST-correct boundaries (DESIGN §4.1)
CREATE EXTENSION microbatch;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

-- sub-day sizes are aligned to local midnight
SELECT * FROM mb_windows('hour', '2024-01-01 22:30', '2024-01-02 01:00');
SELECT * FROM mb_windows('10min', '2024-01-01 00:05', '2024-01-01 00:30');
SELECT count(*), min(window_start), max(window_end) FROM mb_windows('15 minutes', '2024-01-01', '2024-01-02');
SELECT * FROM mb_windows('6 hours', '2024-01-01 05:00', '2024-01-01 13:00');

-- day windows start at local midnight and are 23 h / 25 h across DST
SELECT window_start, window_end, window_end - window_start AS length
  FROM mb_windows('day', '2024-03-09', '2024-03-12', 'America/New_York');
SELECT window_start, window_end, window_end - window_start AS length
  FROM mb_windows('day', '2024-11-02 12:00', '2024-11-04', 'America/New_York');
-- hour windows stay one hour long through both changes: 23 and 25 per day
SELECT count(*) AS hours_spring FROM mb_windows('hour', '2024-03-10 05:00+00', '2024-03-11 04:00+00', 'America/New_York');
SELECT count(*) AS hours_fall, bool_and(window_end - window_start = '1 hour') AS all_one_hour
  FROM mb_windows('hour', '2024-11-03 04:00+00', '2024-11-04 05:00+00', 'America/New_York');

-- weeks start on Monday (2024-01-01 is a Monday; 2023-12-31 a Sunday)
SELECT window_start, extract(isodow FROM window_start) AS dow, window_end
  FROM mb_windows('week', '2023-12-31', '2024-01-09');

-- months are calendar months: February has 29 days in 2024 and 28 in 2023
SELECT window_start::date, window_end::date, window_end::date - window_start::date AS days
  FROM mb_windows('month', '2024-01-15', '2024-03-02');
SELECT window_end::date - window_start::date AS feb_2023_days
  FROM mb_windows('month', '2023-02-01', '2023-02-02');
SELECT window_start::date, window_end::date FROM mb_windows('quarter', '2024-02-10', '2024-07-01');
SELECT window_start::date, window_end::date FROM mb_windows('year', '2023-06-01', '2025-01-01');
-- before 1 AD too: January follows December, and 1 BC is year 0
SELECT window_start::date, window_end::date FROM mb_windows('month', '4713-11-10 BC', '4712-02-01 BC');
SELECT window_start::date, window_end::date FROM mb_windows('quarter', '2-12-01 BC', '0002-01-01');
-- a window that begins before the first legal instant or ends after the last
-- one has no bounds: refused
SELECT * FROM mb_windows('month', '4714-11-24 00:00:00+00 BC', '4714-12-02 BC');
SELECT * FROM mb_windows('day', '294276-12-31', '294276-12-31 01:00');

-- month boundaries in a zone are local midnights
SELECT * FROM mb_windows('month', '2024-03-01', '2024-04-01', 'Europe/Berlin');

-- spelled-out sizes mean the named ones
SELECT (SELECT array_agg(window_start) FROM mb_windows('1 hour', '2024-01-01', '2024-01-01 03:00'))
     = (SELECT array_agg(window_start) FROM mb_windows('hour', '2024-01-01', '2024-01-01 03:00')) AS same;
SELECT count(*) FROM mb_windows('1 day', '2024-01-01', '2024-02-01');

-- an empty range has no windows; a range inside one window has that window
SELECT count(*) FROM mb_windows('day', '2024-01-01', '2024-01-01');
SELECT * FROM mb_windows('day', '2024-01-01 10:00', '2024-01-01 11:00');

-- bad input
SELECT * FROM mb_windows('fortnight', '2024-01-01', '2024-01-02');
SELECT * FROM mb_windows('7 minutes', '2024-01-01', '2024-01-02');
SELECT * FROM mb_windows('0 minutes', '2024-01-01', '2024-01-02');
SELECT * FROM mb_windows('day', '2024-01-01', '2024-01-02', 'Mars/Olympus');
SELECT * FROM mb_windows('day', '-infinity', '2024-01-02');
SELECT * FROM mb_windows(NULL, '2024-01-01', '2024-01-02');

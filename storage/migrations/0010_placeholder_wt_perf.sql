-- Placeholder on branch wt-perf for the shell helper's 0010 (the runner refuses
-- gaps); dropped when merged beside the real 0010.
SELECT 1;

-- PLACEHOLDER on branch wt-tb only, so that 0009 follows without a gap;
-- dropped when the real 0008 is merged.
SELECT 1;

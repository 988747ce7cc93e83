-- Placeholder on branch wt-input only, so the versions stay consecutive
-- here: DELETE this file when merging (the real 0009 is another branch's).
SELECT 1;

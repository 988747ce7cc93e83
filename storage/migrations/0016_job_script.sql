-- A job's batch script, as Slurm was given it, for its user to read
-- (issue 17): kept in the row by the statement that records the job
-- queued, instead of as a script.sh file the submit wrote beside the
-- secrets. A new file was the costliest thing a submit wrote after the
-- one it must sync. NULL for jobs submitted before, and for the tasks of
-- an array, whose script.sh files the array's script runs.
ALTER TABLE jobs ADD COLUMN script text;

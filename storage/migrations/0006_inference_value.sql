-- An inference's output value (SPEC §6): the number its job wrote as the
-- first line of /kqi/output/value.txt, NULL when it wrote none or no number.
-- Any kind may have one; only inferences record it today.
ALTER TABLE jobs ADD COLUMN output_value DOUBLE PRECISION;

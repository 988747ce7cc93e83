-- Reserved: version 7 belongs to a feature built beside the shell (0008).
-- The migration runner wants consecutive versions; whoever merges drops
-- this file once the real 0007 is in.
SELECT 1;

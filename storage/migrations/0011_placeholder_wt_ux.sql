-- Placeholder kept by wt-ux so its 0013 needs no renumbering; the lead drops or replaces it when merging.
SELECT 1;

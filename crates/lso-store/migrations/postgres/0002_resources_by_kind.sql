-- Listing every resource of a kind (an operator's view, a billing run) walks this index in
-- order instead of sorting the kind's rows for each page.
CREATE INDEX resources_by_kind ON resources (kind, seq);

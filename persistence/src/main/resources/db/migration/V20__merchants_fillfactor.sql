-- Every commit that writes a merchant updates its row (head_seq): tens of thousands of updates a
-- second at a peak, nearly all HOT. A page is pruned of dead versions only when its free space
-- falls under the larger of its fillfactor's reserve and a tenth of the page; with the default
-- (100) a merchant's row collects long chains of dead versions that every upsert walks, and updates
-- that find no room go to other pages with a new index entry each. With 10, pages keep room and are
-- pruned as soon as the versions are dead: at batch 100 over 1,000 merchants, ingest went from
-- 34,000 to 39,900 events/s on a database grown by 6 M events (perf/README.md, "What slowed ingest
-- run after run"). The price: the table takes about ten times the space, under 1 kB per merchant.
-- Rows already stored keep their pages until they are next updated.
ALTER TABLE merchants SET (fillfactor = 10);

-- Projection and filter (Nexmark q1/q2-like): dollars to euros for the partner channel's bids.
CREATE TABLE out_rows (auction BIGINT, bidder BIGINT, euros DECIMAL(13, 3), ts TIMESTAMP(3))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_rows SELECT auction, bidder, price * 0.908, ts FROM bids WHERE channel = 'partner' OR MOD(auction, 123) = 0;

-- The print connector's rows (+I[...]).
CREATE TABLE shown (auction BIGINT, price DECIMAL(10, 2), channel STRING, ts TIMESTAMP(3), note STRING, ratio DOUBLE)
WITH ('connector' = 'print');
INSERT INTO shown
SELECT auction, price, channel, ts, CASE WHEN price > 900 THEN 'high' END, bidder / 3.0e0
FROM bids
WHERE auction = 1007;

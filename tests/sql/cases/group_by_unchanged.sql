-- GROUP BY whose result often stays the same: Flink emits no change for those rows.
CREATE TABLE top_bidders (channel STRING, top_bidder BIGINT, top_price DECIMAL(10, 2))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'debezium-json');
INSERT INTO top_bidders
SELECT channel, MAX(bidder), MAX(price)
FROM bids
GROUP BY channel;

-- GROUP BY without a window: an updating result, written as Flink's debezium-json changelog.
CREATE TABLE per_channel (channel STRING, bids BIGINT, total DECIMAL(38, 2), top_bidder BIGINT, first_bid TIMESTAMP(3), avg_price DECIMAL(38, 6))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'debezium-json');
INSERT INTO per_channel
SELECT channel, COUNT(*), SUM(price), MAX(bidder), MIN(ts), AVG(price)
FROM bids
WHERE auction < 1010
GROUP BY channel;

-- Writes the events of nexmark.sql's views to CSV files (${OUT}/bid, ${OUT}/person,
-- ${OUT}/auction): the input Flink reads in regenerate-golden.sh, committed as data/nexmark.
CREATE TABLE bid_out (
    auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    dateTime TIMESTAMP(3), extra VARCHAR
) WITH ('connector' = 'filesystem', 'path' = '${OUT}/bid', 'format' = 'csv');
CREATE TABLE person_out (
    id BIGINT, name VARCHAR, emailAddress VARCHAR, creditCard VARCHAR, city VARCHAR,
    state VARCHAR, dateTime TIMESTAMP(3), extra VARCHAR
) WITH ('connector' = 'filesystem', 'path' = '${OUT}/person', 'format' = 'csv');
CREATE TABLE auction_out (
    id BIGINT, itemName VARCHAR, description VARCHAR, initialBid BIGINT, reserve BIGINT,
    dateTime TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR
) WITH ('connector' = 'filesystem', 'path' = '${OUT}/auction', 'format' = 'csv');
INSERT INTO bid_out SELECT * FROM bid;
INSERT INTO person_out SELECT * FROM person;
INSERT INTO auction_out SELECT * FROM auction;

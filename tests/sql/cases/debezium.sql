-- Flink's debezium-json format read as a changelog (creates, snapshot reads, updates and
-- deletes), filtered and projected, and written as a changelog.
CREATE TABLE products (id BIGINT, name STRING, price DECIMAL(10, 2), stock INT)
WITH ('connector' = 'filesystem', 'path' = '${DATA}/products.debezium.json', 'format' = 'debezium-json');
CREATE TABLE out_products (id BIGINT, label STRING, worth DECIMAL(21, 2))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'debezium-json');
INSERT INTO out_products
SELECT id, UPPER(name), price * stock FROM products WHERE stock > 3;

//! The broadcast state pattern with dynamic rules.
//!
//! Orders are keyed by customer and counted in keyed state. A rule stream — "alert when a
//! customer's order count reaches N" — is broadcast to every parallel instance. An order that
//! reaches the current limit raises an alert; a new limit, when it arrives, looks at every
//! customer's count at once (`apply_to_keyed_state`, Flink's `applyToKeyedState`) and alerts
//! for those already past it. Whichever stream arrives first, each customer is alerted once
//! per limit it passes.
//!
//! ```sh
//! cargo run --example broadcast_rules
//! ```

use sluice::prelude::*;

/// The broadcast rule: the order count that raises an alert.
fn limit() -> BroadcastStateDescriptor<String, u64> {
    BroadcastStateDescriptor::new("limit")
}

/// Counts orders per customer and alerts when a count reaches the broadcast limit.
#[derive(Clone)]
struct CountAlerts;

impl CountAlerts {
    fn orders() -> ValueState<u64> {
        ValueState::new("orders")
    }
}

impl KeyedBroadcastProcessFunction<String, String, u64, String> for CountAlerts {
    fn process_element(
        &mut self,
        _order: String,
        ctx: &mut KeyedContext<'_, String>,
        rules: &BroadcastStates,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let orders = Self::orders().value(ctx.state())?.unwrap_or(0) + 1;
        Self::orders().update(ctx.state(), &orders)?;
        let current = rules
            .get(&limit())
            .and_then(|rule| rule.get("orders").copied());
        if current == Some(orders) {
            out.collect(format!("{} reached {orders} orders", ctx.current_key()));
        }
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        new_limit: u64,
        ctx: &mut KeyedBroadcastContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        ctx.states_mut()
            .get_mut(&limit())?
            .insert("orders".to_string(), new_limit);
        // Customers already past the new limit are alerted now, from their keyed state.
        ctx.apply_to_keyed_state("orders", |customer, state| {
            let orders = Self::orders().value(state)?.unwrap_or(0);
            if orders >= new_limit {
                out.collect(format!(
                    "{customer} reached {new_limit} orders ({orders} so far)"
                ));
            }
            Ok(())
        })
    }
}

fn main() -> Result<(), String> {
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);
    let rules = env.from_collection(vec![3u64]).broadcast_with(&limit());
    let orders: Vec<String> = ["ann", "bob", "ann", "cid", "ann", "bob", "ann", "bob"]
        .into_iter()
        .map(String::from)
        .collect();
    env.from_collection(orders)
        .key_by(|customer: &String| customer.clone())
        .connect_broadcast(rules)
        .process(CountAlerts)
        .print();
    env.execute("broadcast rules").map_err(|e| e.to_string())?;
    Ok(())
}

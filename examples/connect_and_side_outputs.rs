//! Side outputs and connected streams.
//!
//! Raw payment lines are parsed by a process function: good payments go to the main output,
//! malformed lines to a side output. Payments are then connected with a stream of per-account
//! limits (a control stream), keyed by account, and a co-process function flags payments over
//! the account's latest limit.
//!
//! ```sh
//! cargo run --example connect_and_side_outputs
//! ```

use std::collections::HashMap;

use sluice::prelude::*;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Payment {
    account: String,
    amount: u64,
}

/// Parses `account,amount`; anything else goes to the `malformed` side output.
#[derive(Clone)]
struct ParsePayments {
    malformed: OutputTag<String>,
}

impl ProcessFunction<String, Payment> for ParsePayments {
    fn process_element(
        &mut self,
        line: String,
        ctx: &mut Context<'_>,
        out: &mut Collector<'_, Payment>,
    ) -> UserResult {
        match line
            .split_once(',')
            .map(|(a, n)| (a.trim(), n.trim().parse::<u64>()))
        {
            Some((account, Ok(amount))) if !account.is_empty() => out.collect(Payment {
                account: account.to_string(),
                amount,
            }),
            _ => ctx.output(&self.malformed, line),
        }
        Ok(())
    }
}

/// Flags payments above their account's current limit (default 100).
#[derive(Clone, Default)]
struct LimitCheck {
    limits: HashMap<String, u64>,
}

impl CoProcessFunction<Payment, (String, u64), String> for LimitCheck {
    fn process_element1(
        &mut self,
        payment: Payment,
        _: &mut Context<'_>,
        out: &mut Collector<'_, String>,
    ) -> UserResult {
        let limit = self.limits.get(&payment.account).copied().unwrap_or(100);
        if payment.amount > limit {
            out.collect(format!(
                "ALERT {} paid {} (limit {limit})",
                payment.account, payment.amount
            ));
        }
        Ok(())
    }

    fn process_element2(
        &mut self,
        (account, limit): (String, u64),
        _: &mut Context<'_>,
        _: &mut Collector<'_, String>,
    ) -> UserResult {
        self.limits.insert(account, limit);
        Ok(())
    }
}

/// mimalloc: Sluice moves many small records between threads, where glibc's allocator is slow.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), JobError> {
    sluice::init_logging();
    let env = StreamExecutionEnvironment::new();
    env.set_parallelism(2);

    let lines = vec![
        "alice,40",
        "bob,250",
        "not a payment",
        "carol,99",
        "alice,120",
        "bob,-3",
    ];
    let malformed = OutputTag::<String>::new("malformed");
    let payments = env
        .from_collection(lines.into_iter().map(String::from).collect())
        .process(ParsePayments {
            malformed: malformed.clone(),
        })
        .name("Parse Payments");
    payments
        .get_side_output(&malformed)
        .map(|line: String| format!("MALFORMED {line}"))
        .print();

    let limits = env.from_collection(vec![("bob".to_string(), 500u64), ("alice".to_string(), 50)]);
    payments
        .connect(limits)
        .key_by(
            |p: &Payment| p.account.clone(),
            |l: &(String, u64)| l.0.clone(),
        )
        .process(LimitCheck::default())
        .name("Limit Check")
        .print();

    let result = env.execute("Payments")?;
    eprintln!("finished in {} ms", result.net_runtime.as_millis());
    Ok(())
}

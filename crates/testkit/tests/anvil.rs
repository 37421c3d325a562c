//! `TestAnvil`: a node on a random port with the contract deployed, that keeps its chain across
//! a stop and a start on the same port.

use alloy::providers::Provider as _;
use testkit::TestAnvil;

#[tokio::test]
async fn a_stopped_node_refuses_calls_and_comes_back_with_its_chain() {
    let mut anvil = TestAnvil::start().await.expect("anvil");
    let provider = anvil.provider();
    assert_eq!(provider.get_chain_id().await.expect("chain id"), 31_337);
    let code = provider
        .get_code_at(anvil.contract_address())
        .await
        .expect("code");
    assert!(!code.is_empty(), "the contract is deployed");
    anvil.mine(3).await.expect("mine");
    let height = provider.get_block_number().await.expect("height");

    anvil.stop();
    assert!(
        provider.get_block_number().await.is_err(),
        "the node is down"
    );

    anvil.start_again().await.expect("start again");
    assert_eq!(provider.get_block_number().await.expect("height"), height);
    let code = provider
        .get_code_at(anvil.contract_address())
        .await
        .expect("code");
    assert!(!code.is_empty(), "the contract survived the restart");
    assert!(anvil.position_events().await.expect("logs").is_empty());
}

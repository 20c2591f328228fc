use anyhow::Context;
use quartz_aws_stack::template::{self, SynthConfig};

/// `quartz synth`: prints the CloudFormation template of Quartz on AWS (the seed's CDK stack,
/// with the seed's context names as flags).
#[derive(Debug, clap::Args)]
// Flattened into `quartz deploy`, whose own `Args` group would clash with this one's name.
#[group(skip)]
pub struct Args {
    /// The ReleaseManager contract the monitor watches.
    #[arg(long, value_name = "ADDR")]
    pub release_manager_address: String,
    /// The Ethereum JSON-RPC endpoint the monitor reads (stored in the monitor's environment).
    #[arg(long, value_name = "URL")]
    pub rpc_endpoint: String,
    /// An EKS node role to grant pull access to the performer repository.
    #[arg(long, value_name = "ARN")]
    pub eks_node_role_arn: Option<String>,
}

impl Args {
    pub fn config(&self) -> anyhow::Result<SynthConfig> {
        Ok(SynthConfig::parse(
            &self.release_manager_address,
            &self.rpc_endpoint,
            self.eks_node_role_arn.as_deref(),
        )?)
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    let template = template::synthesize(&config)?;
    let text = serde_json::to_string_pretty(&template).context("cannot print the template")?;
    println!("{text}");
    Ok(())
}

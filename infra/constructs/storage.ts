import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ARTIFACT_PREFIXES, TABLE } from '../../shared/schema.js';

export interface StorageProps {
  /** Applies to the table and the artifacts bucket. */
  readonly removalPolicy: RemovalPolicy;
  /** DynamoDB deletion protection on the table. */
  readonly deletionProtection: boolean;
}

/** Days synthetic run screenshots are kept in the artifacts bucket. */
export const SCREENSHOT_DAYS = 30;

/** The single table and the artifacts bucket, both built from shared/schema.ts. */
export class Storage extends Construct {
  readonly table: Table;
  readonly artifactsBucket: Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);

    // All key attributes are strings (KEY_ATTRIBUTE_TYPE in the schema).
    const key = (name: string) => ({ name, type: AttributeType.STRING });

    this.table = new Table(this, 'Table', {
      partitionKey: key(TABLE.partitionKey),
      sortKey: key(TABLE.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy,
      deletionProtection: props.deletionProtection,
    });

    const destroy = props.removalPolicy === RemovalPolicy.DESTROY;
    this.artifactsBucket = new Bucket(this, 'ArtifactsBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: destroy,
      // Synthetic run screenshots: a month, then a run's screenshot link answers 404 ("no longer stored").
      lifecycleRules: [{ prefix: ARTIFACT_PREFIXES.synthetics, expiration: Duration.days(SCREENSHOT_DAYS) }],
    });
  }
}

// A throwaway S3 server for tests: npm `s3rver` behind a Signature V4 check, in its own process on loopback
// (chDB runs in the test process and reaches it over HTTP). Random keys, a temporary folder, removed on stop.
//
//   const s3 = await startTestS3(['lake']);
//   const config = testConfig(s3.env);          // S3_ENDPOINT, S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
//   ...
//   await s3.stop();
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalS3, type LocalS3 } from '../../kernel-proxy/src/s3/local-server.js';

export interface TestS3 extends LocalS3 {
  directory: string;
  /** Environment for loadConfig / testConfig: the default S3 connection pointing here. */
  env: Record<string, string>;
}

export async function startTestS3(buckets: string[] = ['lake']): Promise<TestS3> {
  const directory = await mkdtemp(path.join(tmpdir(), 'chlab-s3-'));
  const server = await startLocalS3({ directory, buckets });
  return {
    ...server,
    directory,
    env: {
      S3_ENDPOINT: server.endpoint,
      S3_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    },
    stop: async () => {
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

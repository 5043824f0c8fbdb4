// Test doubles for the shepherd: a provider in memory and an SSH client that plays the agent.
export { FakeProvider } from './fake-provider.ts';
export { FakeSshClient, succeed } from './fake-ssh-client.ts';
export type { FakeAgentBehaviour } from './fake-ssh-client.ts';
export { waitFor } from './wait.ts';
export { runBmaas, spawnBmaas } from './run-bmaas.ts';
export type { BmaasProcess } from './run-bmaas.ts';

// The `sim` provider: a simulated fleet behind the provider contract.
export { SimProvider, type SimulatedFleet } from './sim-provider.ts';

export { TrafficView } from './TrafficView';
export type { TrafficViewSource } from './TrafficView';
export { ExchangePage } from './ExchangePage';

export * from './export'

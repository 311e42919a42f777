export * from '../../../native-addon.js';

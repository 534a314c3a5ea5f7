export { loadConfig, ConfigError, type Config } from './config.js';
export { startServer, type RunningServer } from './main.js';
export { createJsonLogger, silentLogger, type Logger } from './shared/logger.js';
export { dataDirectoryLayout } from './data-directory.js';

/** The device model's public surface: parameters, the simulator the replay installs, op attribution. */
export { opIoInfo } from './attribution.js';
export { BlockLayer, PLUG_REQUESTS_MAX, type BlockLayerCounters, type BlockRequest } from './merge.js';
export { builtinDeviceModel, DEVICE_MODEL_DEFAULTS, DEVICE_MODEL_NAMES, isDeviceModelName, parseDeviceParams, type DeviceModelName, type DeviceModelSpec } from './params.js';
export { DeviceSimulator, type DeviceSimulatorOptions, type OpIoInfo } from './sim.js';
export { createDeviceTiming, type DeviceTiming } from './timing.js';
export { JournalLog, descriptorBlocksFor, type JournalGeometry } from './journal.js';

/**
 * libtensorflow (the native backend, after `npm run setup:native`) writes two lines to stderr while the library
 * loads, before its logging is configured: absl's "All log messages before absl::InitializeLog()" notice and the
 * oneDNN INFO banner. TF_CPP_MIN_LOG_LEVEL does not reach them (checked with levels 1–3, ABSL_MIN_LOG_LEVEL and
 * GLOG_minloglevel on TensorFlow 2.21). Tests that hold stderr empty strip exactly these lines and nothing else.
 */
const NATIVE_LOAD_LINES = [
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/,
  /^I\d+ [\d:.]+\s+\d+ port\.cc:\d+\] oneDNN custom operations are on\./,
];

export function withoutNativeLoadBanner(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => !NATIVE_LOAD_LINES.some((re) => re.test(line)))
    .join("\n")
    .trim();
}

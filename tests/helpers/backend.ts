import { initBackend } from "../../src/backend";

/** Tests run on the backend DPO_BACKEND names, else the best that loads (as users get). */
export async function useBackendForTests(): Promise<string> {
  const choice = await initBackend({ quiet: true });
  return choice.name;
}

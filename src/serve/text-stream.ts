/**
 * Token ids → the text a client sees, incrementally: special tokens skipped, stop strings cut (the stop text itself
 * is not returned, as in OpenAI's API), and text that may still turn into a stop string or is half a UTF-8
 * character held back until it is certain, so streamed deltas always add up to the final text.
 */
import type { Tokenizer } from "../tokenizer/tokenizer";

/** Incremental detokenization of one sequence: push token ids, get the text that is certain so far (see the file's opening comment). */
export class TextStream {
  private tokens: number[] = [];
  private sent = 0;
  private text = "";
  /** True once a stop string appeared: the sequence must end. */
  stopped = false;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly stops: string[],
  ) {}

  /** Adds a token; returns the new text that is safe to send (maybe ""). */
  push(id: number): string {
    if (this.stopped) return "";
    this.tokens.push(id);
    const full = this.tokenizer.decode(this.tokens, { skipSpecialTokens: true });
    let end = full.length;
    let cut = -1;
    for (const stop of this.stops) {
      const at = full.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stopped = true;
      this.text = full.slice(0, cut);
      return this.take(this.text.length);
    }
    this.text = full;
    while (end > 0 && full.charCodeAt(end - 1) === 0xfffd) end--; // an incomplete UTF-8 sequence so far
    for (const stop of this.stops) {
      // Hold back the longest tail of the text that is the start of a stop string.
      for (let n = Math.min(stop.length - 1, end); n > 0; n--) {
        if (full.endsWith(stop.slice(0, n)) && full.length - n < end) {
          end = full.length - n;
          break;
        }
      }
    }
    return this.take(end);
  }

  /** The text not sent yet, at the end of generation (a held-back tail that never became a stop string). */
  flush(): string {
    return this.take(this.text.length);
  }

  /** The whole output text so far (stop string excluded). */
  get output(): string {
    return this.text;
  }

  private take(end: number): string {
    if (end <= this.sent) return "";
    const delta = this.text.slice(this.sent, end);
    this.sent = end;
    return delta;
  }
}

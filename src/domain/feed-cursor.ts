/** A position in the change feed: the writing transaction's id and the revision id within it. */
export interface FeedPosition { txid: string, id: string }

/** Before every change: where a feed read without `after` starts. */
export const FEED_START: FeedPosition = { txid: '0', id: '00000000-0000-0000-0000-000000000000' }

const TXID = /^(0|[1-9][0-9]{0,19})$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function encodeFeedCursor (position: FeedPosition): string {
  return Buffer.from(JSON.stringify({ t: position.txid, i: position.id })).toString('base64url')
}

/** The position in a cursor, or undefined when the cursor is not one of ours. */
export function decodeFeedCursor (cursor: string): FeedPosition | undefined {
  try {
    const { t, i } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    // xid8 is unsigned 64-bit; anything larger would make Postgres raise instead of answering 400.
    if (typeof t !== 'string' || !TXID.test(t) || BigInt(t) > 18446744073709551615n) return undefined
    if (typeof i !== 'string' || !UUID.test(i)) return undefined
    return { txid: t, id: i }
  } catch {
    return undefined
  }
}

/**
 * sorted-btree (a B+ tree) is CommonJS: under Node's ESM loader its default
 * import is module.exports, whose `default` is the class.
 */
import btreeModule from 'sorted-btree';

export const BTree = btreeModule.default;
export type BTree<K, V> = import('sorted-btree').default<K, V>;

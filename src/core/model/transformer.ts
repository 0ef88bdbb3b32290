/**
 * Closed-form parameter and FLOP counts of the built-in decoder-only transformer. The engine
 * builds exactly this model (src/engine/model), and a unit test checks the two agree.
 *
 * Per layer (pre-LayerNorm): ln1 (2d) + qkv (3d² + 3d) + attention out (d² + d) + ln2 (2d)
 *   + MLP in (r·d² + r·d) + MLP out (r·d² + d)  =  (4 + 2r)·d² + (9 + r)·d   (= 12d² + 13d at r = 4)
 * Final LayerNorm: 2d. Embeddings: token V·d, positions T·d; untied output head d·V (no bias).
 */
import type { TransformerModelSpec } from '../contracts';

export interface TransformerCounts {
  /** parameters outside the embeddings and the output head (Kaplan's N) */
  nonEmbedding: number;
  /** token + position embeddings, plus the output head when untied */
  embedding: number;
  total: number;
  /** attention FLOPs per training token (Kaplan: 6·L·T·d; forward 2·L·T·d × 3) */
  attentionFlopsPerToken: number;
}

export type TransformerShape = Pick<
  TransformerModelSpec,
  'dModel' | 'nLayers' | 'contextLength' | 'vocabSize' | 'mlpRatio' | 'tiedEmbeddings'
>;

export function countTransformerParams(m: TransformerShape): TransformerCounts {
  const d = m.dModel;
  const r = m.mlpRatio;
  const perLayer = (4 + 2 * r) * d * d + (9 + r) * d;
  const nonEmbedding = m.nLayers * perLayer + 2 * d;
  const embedding = m.vocabSize * d + m.contextLength * d + (m.tiedEmbeddings ? 0 : d * m.vocabSize);
  return {
    nonEmbedding,
    embedding,
    total: nonEmbedding + embedding,
    attentionFlopsPerToken: 6 * m.nLayers * m.contextLength * d,
  };
}

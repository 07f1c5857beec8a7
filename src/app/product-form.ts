import type { Product, ProductPatch } from './catalog';

/** What the edit form shows: the text of each field, as typed (so a rejected edit can be shown again). */
export interface ProductFormValues {
  name: string;
  price: string;
  category: string;
  description: string;
  onSale: boolean;
}

export function formValuesOf(product: Product): ProductFormValues {
  const { name, category, description, onSale } = product;
  return { name, price: String(product.price), category, description, onSale };
}

export function formValuesFrom(fields: URLSearchParams): ProductFormValues {
  return {
    name: fields.get('name') ?? '',
    price: fields.get('price') ?? '',
    category: fields.get('category') ?? '',
    description: fields.get('description') ?? '',
    // An unticked checkbox is simply absent from the body.
    onSale: fields.has('onSale'),
  };
}

/** The edit the form asks for; the catalog validates it. A blank price is NaN, not `Number('')` = 0. */
export function patchFrom(values: ProductFormValues): ProductPatch {
  const price = values.price.trim();
  return { ...values, price: price === '' ? Number.NaN : Number(price) };
}

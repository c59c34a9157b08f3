/**
 * Energy and CO2 budgets of `pnav measure` (`--max-energy-wh`, `--max-co2-g`): the CI gate.
 * Energy counts as calculadorapnav reports it (facility energy, PUE included).
 */
import type { Totals } from './cell-result.js';

export interface Budgets {
  maxEnergyWh?: number;
  maxCo2G?: number;
}

export interface BudgetBreach {
  budget: 'energy' | 'co2';
  limit: number;
  actual: number;
  unit: 'Wh' | 'g CO2eq';
  message: string;
}

export function budgetBreaches(totals: Totals, budgets: Budgets): BudgetBreach[] {
  const breaches: BudgetBreach[] = [];
  if (budgets.maxEnergyWh !== undefined && totals.energyWh > budgets.maxEnergyWh) {
    breaches.push({
      budget: 'energy',
      limit: budgets.maxEnergyWh,
      actual: totals.energyWh,
      unit: 'Wh',
      message: `energy budget exceeded: ${totals.energyWh.toPrecision(4)} Wh > --max-energy-wh ${budgets.maxEnergyWh}`,
    });
  }
  if (budgets.maxCo2G !== undefined && totals.emissionsG > budgets.maxCo2G) {
    breaches.push({
      budget: 'co2',
      limit: budgets.maxCo2G,
      actual: totals.emissionsG,
      unit: 'g CO2eq',
      message: `CO2 budget exceeded: ${totals.emissionsG.toPrecision(4)} g CO2eq > --max-co2-g ${budgets.maxCo2G}`,
    });
  }
  return breaches;
}
